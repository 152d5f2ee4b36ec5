"""The Video Pixel Network family: the VPN and its baseline from the registry's tiny presets, the loader feeding fit,
export, and bad arguments and inputs."""

import numpy as np
import pytest
from keras import ops

import kgen
from kgen.models import VideoPixelNetwork
from kgen.models.video_base import binary_entropy, sigmoid_cross_entropy
from kgen.testing import TestCase
from kgen.testing.test_case import measure_video_dependencies


def tiny(**kwargs):
    return kgen.zoo.get("video_pixel_network.tiny", **kwargs)


def baseline(**kwargs):
    return kgen.zoo.get("video_pixel_network.tiny_baseline", **kwargs)


class TestVideoPixelNetwork(TestCase):
    def test_baseline_sees_the_past_only_and_samples_frames_at_once(self):
        model = baseline()
        dep = self.run_video_causality_test(model)
        n = 25
        assert not dep[n:, n:].reshape(2, n, 2, n)[np.arange(2), :, np.arange(2)].any()  # nothing of its own frame
        self.run_video_sampling_test(model)

    def test_vpn_reaches_its_own_frame_unlike_the_baseline(self):
        dep = self.run_video_causality_test(tiny(), num_frames=3)
        own = dep[25:50, 25:50]
        assert own[24, 23] and own[6, 0] and not own[0].any()  # left neighbour and row above reach; pixel 0 sees none
        assert dep[50:75, :50].all()  # every pixel of both earlier frames reaches the last frame's every pixel

    def test_more_context_frames_and_longer_generation(self):
        model = tiny(num_context_frames=2)
        self.run_video_sampling_test(model, num_videos=1, num_frames=3)

    def test_loss_is_the_grey_level_cross_entropy_and_the_metrics_name_it(self):
        model = tiny()
        x = model.example_inputs(batch_size=3, seed=1)["x"]
        logits = ops.convert_to_numpy(model(x))
        p = x[:, 1:] / 255.0
        expected = -(p * np.log(1 / (1 + np.exp(-logits))) + (1 - p) * np.log(1 - 1 / (1 + np.exp(-logits))))
        np.testing.assert_allclose(model.log_prob(x), -expected.sum(axis=(1, 2, 3, 4)), rtol=1e-4)
        cross_entropy = sigmoid_cross_entropy(ops.convert_to_tensor(x[:, 1:]), ops.convert_to_tensor(logits))
        np.testing.assert_allclose(ops.convert_to_numpy(cross_entropy), expected,
                                   rtol=1e-4, atol=1e-5)
        entropy = ops.convert_to_numpy(binary_entropy(ops.convert_to_tensor(np.array([0.0, 255.0, 127.5], "float32"))))
        np.testing.assert_allclose(entropy, [0.0, 0.0, np.log(2)], atol=1e-6)
        model.compile(optimizer="adam")
        result = model.evaluate(x, batch_size=3, return_dict=True, verbose=0)
        per_frame = -model.log_prob(x) / 2
        np.testing.assert_allclose(result["nats_per_frame"], per_frame.mean(), rtol=1e-4)
        assert result["target_entropy_per_frame"] <= result["nats_per_frame"]

    def test_fits_moving_mnist_from_the_loader(self):
        model = tiny(frame_shape=(28, 28, 1), num_context_frames=2)
        model.compile(optimizer="adam")
        train = kgen.data.load("moving_mnist", "train", batch_size=2, source="embedded", frame_size=28,
                               num_frames=4)
        history = model.fit(train, steps_per_epoch=2, epochs=2, verbose=0)
        assert np.all(np.isfinite(history.history["nats_per_frame"]))
        assert history.history["nats_per_frame"][-1] < history.history["nats_per_frame"][0]


    def test_binarized_inputs_keep_causality_and_the_samplers_and_condition_on_binary_frames(self):
        model = tiny(binarize_inputs=True)
        assert model.binarizes_inputs and not tiny().binarizes_inputs
        dep = self.run_video_causality_test(model, num_frames=3)  # perturbs binary videos: the model says it reads them
        assert dep[50:75, :50].all() and not dep[25:50, 25:50][0].any()
        self.run_video_sampling_test(model)  # cached == naive: the cached encoder binarises the context the same way
        self.run_video_sampling_test(tiny(binarize_inputs=True, num_context_frames=2), num_videos=1, num_frames=3)
        # the network reads binary frames: a grey video and its binarisation by the layer's pattern score the same,
        # against the same grey targets; without the option they differ
        x = model.example_inputs(batch_size=2, seed=3)["x"]
        pattern = model.get_layer("binarize").inference_pattern()
        binary = (pattern[np.arange(x.shape[1]) % len(pattern)][None] < x / 255.0).astype("float32") * 255.0
        targets = ops.convert_to_tensor(x[:, 1:])
        nats = [ops.convert_to_numpy(ops.sum(sigmoid_cross_entropy(targets, model(v)))) for v in (x, binary)]
        np.testing.assert_allclose(nats[0], nats[1], rtol=1e-6)
        plain = tiny()
        assert not np.allclose(ops.convert_to_numpy(plain(x)), ops.convert_to_numpy(plain(binary)))
        # the loss still reads the grey levels: evaluate agrees with log_prob
        model.compile(optimizer="adam")
        result = model.evaluate(x, batch_size=2, return_dict=True, verbose=0)
        np.testing.assert_allclose(result["nats_per_frame"], (-model.log_prob(x) / 2).mean(), rtol=1e-4)

    @pytest.mark.parametrize("binarize", [False, True])
    def test_last_frame_path_keeps_causality_and_the_samplers_and_reads_the_previous_frame(self, binarize, tmp_path):
        model = tiny(last_frame_kernel=3, binarize_inputs=binarize, num_context_frames=2)
        assert model.get_config()["last_frame_kernel"] == model.last_frame_kernel == 3
        assert "last_frame_kernel" not in tiny().get_config() and tiny().last_frame_kernel == 0  # configs as before
        dep = self.run_video_causality_test(model, num_frames=4)
        assert dep[75:, :75].all() and not dep[50:75, 50:75][0].any()
        self.run_video_sampling_test(model, num_videos=2, num_frames=2)  # cached == naive: the frame hooks add it too
        self.run_model_saving_test(model, tmp_dir=tmp_path)
        # with the ConvLSTM's kernels zeroed the recurrent path carries nothing of the past: the last frame reaches
        # the predicted one only through the direct path, and the frame before it not at all
        for plain, expect in ((model, True), (tiny(binarize_inputs=binarize, num_context_frames=2), False)):
            lstm = plain.get_layer("convlstm")
            lstm.set_weights([np.zeros_like(w) for w in lstm.get_weights()])
            x = plain.example_inputs(batch_size=1, seed=5)["x"][:, :3]
            changed = [x.copy(), x.copy()]
            changed[0][:, 1] = 255.0 - changed[0][:, 1]  # the frame just before the predicted frame 2
            changed[1][:, 0] = 255.0 - changed[1][:, 0]  # the one before that
            base = ops.convert_to_numpy(plain(x))[:, -1]
            moved = [np.abs(ops.convert_to_numpy(plain(v))[:, -1] - base).max() > 1e-6 for v in changed]
            assert moved == [expect, False], (binarize, expect, moved)

    def test_lstm_dilation_widens_the_recurrent_reach_and_keeps_causality_the_samplers_and_saving(self, tmp_path):
        model = tiny(lstm_dilation=2, num_context_frames=2)
        assert model.get_config()["lstm_dilation"] == model.lstm_dilation == 2
        paper = tiny()
        assert "lstm_dilation" not in paper.get_config() and paper.lstm_dilation == 1  # configs as before
        assert model.get_layer("convlstm").dilation_rate == (2, 2)
        dep = self.run_video_causality_test(model, num_frames=4)
        assert dep[75:, :75].all() and not dep[50:75, 50:75][0].any()
        self.run_video_sampling_test(model, num_videos=2, num_frames=2)  # cached == naive: the cell is the graph's
        self.run_model_saving_test(model, tmp_dir=tmp_path)
        # no encoder or decoder blocks: the first pixel of frame 1 sees frame 0 through the 3x3 stem and one ConvLSTM
        # step, so up to 1 + 1 pixels away with dilation 1 and up to 1 + 2 with dilation 2
        for dilation, reach in ((1, 2), (2, 3)):
            plain = tiny(lstm_dilation=dilation, num_encoder_blocks=0, num_decoder_blocks=0, num_context_frames=1)
            seen = measure_video_dependencies(plain, num_frames=2)[25].reshape(2, 5, 5)[0]
            assert seen[:reach + 1, :reach + 1].all() and not seen[reach + 1:].any() and not seen[:, reach + 1:].any()

    @pytest.mark.parametrize("kwargs, match", [
        (dict(frame_shape=(5, 5, 3)), "frame_shape"),
        (dict(hidden_dim=5), "hidden_dim"),
        (dict(encoder_dilations=[]), "encoder_dilations"),
        (dict(encoder_dilations=[1, 0]), "encoder_dilations"),
        (dict(num_context_frames=0), "num_context_frames"),
        (dict(autoregressive="yes"), "autoregressive"),
        (dict(binarize_inputs=1), "binarize_inputs"),
        (dict(first_kernel_size=4), "first_kernel_size"),
        (dict(last_frame_kernel=4), "last_frame_kernel"),
        (dict(last_frame_kernel=-1), "last_frame_kernel"),
        (dict(lstm_dilation=0), "lstm_dilation"),
        (dict(lstm_dilation=6), "lstm_dilation"),
        (dict(lstm_dilation=2.0), "lstm_dilation"),
        (dict(widht=3), "widht"),
    ])
    def test_bad_arguments(self, kwargs, match):
        self.run_bad_argument_test(tiny, kwargs, match)

    def test_bad_inputs_name_the_argument(self):
        model = tiny()
        good = model.example_inputs()["x"]
        with pytest.raises(ValueError, match=r"`video` must have shape \(batch, frames, 5, 5, 1\) with at least 2"):
            model.log_prob(good[:, :1])
        with pytest.raises(ValueError, match="`video` must hold grey levels in 0..255"):
            model.log_prob(good + 300)
        with pytest.raises(ValueError, match="`context` must have shape"):
            model.sample(good[:, :, :4], 2)
        with pytest.raises(ValueError, match="num_frames"):
            model.sample(good[:, :1], 0)
        with pytest.raises(ValueError, match="`method` must be one of"):
            model.sample(good[:, :1], 1, method="fast")
        model.compile(optimizer="adam")
        with pytest.raises(ValueError, match="`x` must have shape"):
            model.fit(np.zeros((2, 3, 6, 6, 1), "float32"), epochs=1, verbose=0)

    def test_direct_construction(self):
        model = VideoPixelNetwork(frame_shape=(4, 6, 1), num_context_frames=1, hidden_dim=4, num_encoder_blocks=1,
                                  lstm_dim=2, num_decoder_blocks=1, first_kernel_size=3)
        assert model(np.zeros((1, 3, 4, 6, 1), "float32")).shape == (1, 2, 4, 6, 1)


def test_strips_and_gif_of_generated_frames_after_real_context(tmp_path):
    from PIL import Image

    model = tiny(frame_shape=(32, 32, 1), num_context_frames=2)
    recipe = {"data": {"name": "moving_mnist", "eval_split": "test", "source": "embedded",
                       "eval_options": {"frame_size": 32}}}
    line = model.write_sample_file(tmp_path / "strip.png", num=2, seed=0, context=3, frames=2, recipe=recipe)
    assert "wrote 2 videos (3 context frames, 2 generated, the truth)" in line
    png = Image.open(tmp_path / "strip.png")
    # 2 videos x 3 strips of max(3, 2) frames, 32 pixels scaled 2x with 1-pixel gutters
    assert png.size == (3 * 64 + 2, 6 * 64 + 5)
    gif = Image.open(tmp_path / "strip.gif")  # the digits move, so no two frames are the same
    assert gif.n_frames == 5 and gif.size == (2 * (2 * 32 + 2), 2 * 2 * 32)
    with pytest.raises(ValueError, match="--context"):
        model.write_sample_file(tmp_path / "bad.png", context=1, recipe=recipe)
    assert not (tmp_path / "bad.png").exists()
