"""Every image model on 8-bit RGB: crops of the two photographs scikit-learn ships, with the 256-way categorical
(R -> G -> B masked) and PixelCNN++'s discretized logistic mixture heads."""

import numpy as np
import pytest
import keras

import kgen

# Small RGB configurations per architecture (widths divisible by the 3 colour groups).
CONFIGS = {
    "pixelcnn": dict(hidden_dim=12, output_dim=12, num_residual_blocks=1, first_kernel_size=3),
    "gated_pixelcnn": dict(filters=12, num_layers=2, first_kernel_size=3),
    "pixelrnn_row": dict(hidden_dim=12, output_dim=12, num_layers=1),
    "pixelrnn_diagonal": dict(hidden_dim=12, output_dim=12, num_layers=1),
}
ARCHS = [name for name in CONFIGS if name in kgen.zoo.list_models()]


def photo_crops(n=6, size=6):
    from sklearn.datasets import load_sample_image

    rng = np.random.default_rng(0)
    crops = []
    for i in range(n):
        image = load_sample_image(("china.jpg", "flower.jpg")[i % 2])
        y, x = rng.integers(0, image.shape[0] - size), rng.integers(0, image.shape[1] - size)
        crops.append(image[y : y + size, x : x + size])
    return np.stack(crops).astype("float32")  # levels 0..255


@pytest.mark.parametrize("likelihood", ["categorical", "logistic_mixture"])
@pytest.mark.parametrize("arch", ARCHS)
def test_rgb_photo_crops(arch, likelihood):
    x = photo_crops()
    model = kgen.zoo.get(arch, image_shape=(6, 6, 3), likelihood=likelihood, num_levels=256, **CONFIGS[arch])
    if likelihood == "logistic_mixture":
        assert model.distribution.joint_channels
    before = model.log_prob(x)
    assert before.shape == (6,) and np.all(np.isfinite(before))
    # An untrained model is far from the data; a few steps on six crops must lower their NLL clearly.
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, epochs=25, batch_size=6, verbose=0)
    after = model.log_prob(x)
    assert after.mean() > before.mean() + 0.05 * abs(before.mean()), (before.mean(), after.mean())
    bits = -after.mean() / (x[0].size * np.log(2))
    assert bits < 8.0, bits  # below the 8 bits/dim of a uniform 256-level model
    sample = model.sample(1, seed=0)
    assert sample.shape == (1, 6, 6, 3) and sample.dtype == np.uint8
