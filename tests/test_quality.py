"""The sample-quality measures on known cases (kgen.quality): the Frechet distance against closed forms, and the
shipped judges on real data (near the ceiling), on noise (near the floor) and with shuffled labels (a lower
conditional accuracy); the video measure on the true frames, on black frames and on the digits moved away; the text
measure on held-out text, noise and shuffled letters or words; `kgen score` end to end. The data is the MNIST, FSDD,
Moving MNIST and Tiny Shakespeare kgen embeds (no data folder needed)."""

import json

import numpy as np
import pytest

from kgen import cli, quality, zoo
from kgen import data as kdata
from kgen.data import moving_mnist

pytestmark = pytest.mark.one_backend("torch")  # numpy around the judges, which every backend runs (tests/test_zoo.py)


@pytest.fixture(scope="module")
def image_judge():
    return zoo.get(quality.IMAGE_JUDGE, pretrained=True)


@pytest.fixture(scope="module")
def audio_judge():
    return zoo.get(quality.AUDIO_JUDGE, pretrained=True)


@pytest.fixture(scope="module")
def digits():
    """Embedded MNIST test digits: grey (0..255), their fixed binarisation (0/1) and the labels."""
    grey, labels = kdata.load_arrays("mnist", "test", source="embedded")
    binary, _ = kdata.load_arrays("binarized_mnist", "test", source="embedded")
    return grey.astype("float32"), binary.astype("float32"), labels


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    cov = a @ a.T + np.eye(4)
    mean = rng.normal(size=4)
    assert quality.frechet_distance((mean, cov), (mean, cov)) == pytest.approx(0.0, abs=1e-6)
    shift = np.array([1.0, -2.0, 0.5, 0.0])
    assert quality.frechet_distance((mean, cov), (mean + shift, cov)) == pytest.approx(5.25, rel=1e-6)
    # N(0, a^2 I) against N(0, b^2 I) in d dimensions: d (a - b)^2.
    d, s_a, s_b = 6, 2.0, 0.5
    value = quality.frechet_distance((np.zeros(d), s_a**2 * np.eye(d)), (np.zeros(d), s_b**2 * np.eye(d)))
    assert value == pytest.approx(d * (s_a - s_b) ** 2, rel=1e-6)
    other = (mean + shift, np.diag([1.0, 2.0, 3.0, 4.0]))
    assert quality.frechet_distance((mean, cov), other) == pytest.approx(quality.frechet_distance(other, (mean, cov)))


def test_gaussian_statistics_refuse_too_few():
    with pytest.raises(ValueError, match="`features` must be \\(N, D\\) with N >= 2"):
        quality.gaussian_statistics(np.zeros((1, 3)))


def test_image_judge_real_digits_near_ceiling_noise_near_floor(image_judge, digits):
    grey, binary, labels = digits
    reference = quality.gaussian_statistics(image_judge.classify(grey[1000:])[1])
    binary_reference = quality.gaussian_statistics(image_judge.classify(binary[1000:] * 255.0)[1])
    real = quality.judge_scores(image_judge, grey[:300], labels[:300], reference)
    real_binary = quality.judge_scores(image_judge, binary[:300] * 255.0, labels[:300], binary_reference)
    rng = np.random.default_rng(0)
    noise = (rng.uniform(size=(300, 28, 28, 1)) < 0.13).astype("float32") * 255.0  # MNIST's ink fraction
    floor = quality.judge_scores(image_judge, noise, labels[:300], binary_reference)
    for ceiling in (real, real_binary):
        assert ceiling["accuracy"] >= 0.97 and ceiling["confidence"] >= 0.95, ceiling
        assert floor["frechet_distance"] > 20 * ceiling["frechet_distance"], (floor, ceiling)
    assert floor["accuracy"] <= 0.3 and floor["confidence"] < real["confidence"] - 0.2, floor


def test_shuffled_labels_lower_the_conditional_accuracy(image_judge, digits):
    grey, _, labels = digits
    shuffled = np.random.default_rng(1).permutation(labels[:500])
    true = quality.judge_scores(image_judge, grey[:500], labels[:500])["accuracy"]
    wrong = quality.judge_scores(image_judge, grey[:500], shuffled)["accuracy"]
    assert true >= 0.97 and wrong <= 0.3, (true, wrong)


def test_audio_judge_real_recordings_and_shuffled_digits(audio_judge):
    from kgen import audio

    waves, digit_labels, _ = kdata.load_arrays("fsdd", "test", source="embedded")
    pad = audio_judge.quantization_channels // 2
    codes = quality._pad_codes([audio.mu_law_encode(np.clip(w, -1, 1)) for w in waves], pad)
    true = quality.judge_scores(audio_judge, codes, digit_labels)
    shuffled = quality.judge_scores(audio_judge, codes, np.random.default_rng(0).permutation(digit_labels))
    noise = np.random.default_rng(0).integers(0, 256, size=(60, 6000)).astype("int32")
    floor = quality.judge_scores(audio_judge, noise, digit_labels)
    assert true["accuracy"] >= 0.8 and shuffled["accuracy"] <= 0.35, (true, shuffled)
    assert floor["accuracy"] <= 0.35, floor
    # A louder or quieter copy reads the same (the spectrogram is normalised per recording).
    quiet = quality._pad_codes([audio.mu_law_encode(np.clip(0.25 * w, -1, 1)) for w in waves], pad)
    assert quality.judge_scores(audio_judge, quiet, digit_labels)["accuracy"] >= true["accuracy"] - 0.1


def test_digit_windows_are_the_digits_at_their_positions():
    videos, positions = moving_mnist.load_with_positions("moving_mnist", "test[:2]", source="embedded",
                                                         num_frames=3, frame_size=64)
    windows = quality.digit_windows(videos, positions)
    assert windows.shape == (2, 3, 2, 28, 28, 1)
    r, c = positions[1, 2, 0]
    np.testing.assert_array_equal(windows[1, 2, 0], videos[1, 2, r:r + 28, c:c + 28])
    # The frames are the digits merged by the maximum: every window holds at least its own digit's ink.
    assert (windows >= 128).sum(axis=(3, 4, 5)).min() > 30


def test_video_measure_true_frames_black_frames_and_moved_digits(image_judge):
    videos, positions = moving_mnist.load_with_positions("moving_mnist", "test[:12]", source="embedded",
                                                         num_frames=4, frame_size=64)
    truth = quality._video_row(image_judge, videos, videos, positions)
    assert truth["mass_ratio"] == pytest.approx(1.0) and truth["agreement"] == 1.0
    assert truth["both_kept_all_frames"] == 1.0 and len(truth["per_frame"]) == 4
    black = quality._video_row(image_judge, np.zeros_like(videos), videos, positions)
    assert black["mass_ratio"] == 0.0 and black["kept"] == 0.0 and black["both_kept_all_frames"] == 0.0
    # The same digits drawn somewhere else (the sequences shifted by 6): the windows mostly miss them.
    moved = quality._video_row(image_judge, np.roll(videos, 6, axis=0), videos, positions)
    assert moved["kept"] < 0.5 and moved["both_kept_all_frames"] < 0.5, moved


def test_score_model_has_the_three_rows(image_judge):
    model = zoo.get("gated_pixelcnn.tiny", image_shape=(28, 28, 1), num_classes=10)
    report = quality.score_model(model, data="binarized_mnist", num_samples=12, seed=3, source="embedded",
                                 judge=image_judge, judge_name=quality.IMAGE_JUDGE)
    assert set(report.rows) == {"real", "model", "untrained"}
    for row in report.rows.values():
        assert set(row) == {"frechet_distance", "confidence", "accuracy"}
    assert report.rows["real"]["accuracy"] >= 0.9
    text = "\n".join(report.lines())
    assert "frechet_distance" in text and "judged by digit_classifier.mnist" in text
    again = quality.score_model(model, data="binarized_mnist", num_samples=12, seed=3, source="embedded",
                                judge=image_judge)
    assert again.rows == report.rows  # same seed, same samples, same numbers


def test_score_refuses_what_it_cannot_measure(image_judge):
    text_model = zoo.get("lstm_lm.tiny")
    with pytest.raises(ValueError, match="`data` 'photo_patches' has no sample-quality measure"):
        quality.score_model(text_model, data="photo_patches")
    with pytest.raises(ValueError, match="`judge` must be None for 'tinyshakespeare'"):
        quality.score_model(text_model, data="tinyshakespeare", judge=image_judge)
    for other in ("wavenet.tiny", "pixelcnn.tiny", "video_pixel_network.tiny"):  # not byte text: refused, named
        with pytest.raises(ValueError, match="must be an unconditional byte-level sequence model"):
            quality.score_model(zoo.get(other), data="tinyshakespeare", num_samples=2, source="embedded")
    with pytest.raises(ValueError, match="`num_samples` must be"):
        quality.score_model(zoo.get("pixelcnn.tiny"), data="binarized_mnist", num_samples=1, judge=image_judge)
    wavenet = zoo.get("wavenet.tiny")
    with pytest.raises(ValueError, match="`model` is not class-conditional"):
        quality.score_model(wavenet, data="fsdd", num_samples=4, judge=image_judge)


def test_score_draws_guided_samples_when_asked(audio_judge, image_judge):
    """`guidance`: the samples of both rows are drawn guided, and the report says so (header, note, JSON)."""
    model = zoo.get("wavenet.tiny", num_classes=10, sample_rate=2000)  # 1 s = 2,000 steps: a quick tiny check
    report = quality.score_model(model, data="fsdd", num_samples=4, seed=0, source="embedded", judge=audio_judge,
                                 guidance=2.0)
    assert report.guidance == 2.0 and report.lines()[0].endswith("guidance 2")
    assert any("classifier-free guidance, logits u + 2 (c - u)" in n for n in report.notes)
    assert report.to_json()["guidance"] == 2.0 and 0.0 <= report.rows["model"]["accuracy"] <= 1.0
    with pytest.raises(ValueError, match="`guidance` needs a class-conditional model"):
        quality.score_model(zoo.get("pixelcnn.tiny"), data="binarized_mnist", num_samples=4, judge=image_judge,
                            guidance=2.0)


def test_text_words_are_letter_runs_inside_the_window():
    window = np.frombuffer(b"ere I O'er-stay'd, Thou-art KING; xy z", dtype=np.uint8)
    # "ere" touches the window's start (it may be cut); one-letter runs ("I", "O", "d", "z") are no words
    assert quality.text_words(window) == [b"er", b"stay", b"thou", b"art", b"king", b"xy"]
    assert quality.text_words(np.frombuffer(b"word", dtype=np.uint8)) == []
    vocabulary = quality.text_vocabulary(np.frombuffer(b" the king, the queen ", dtype=np.uint8))
    assert vocabulary == ({b"the", b"king", b"queen"}, {(b"the", b"king"), (b"king", b"the"), (b"the", b"queen")})
    scores = quality.text_scores([np.frombuffer(b" the knave the king ", dtype=np.uint8)], vocabulary)
    assert scores == {"real_words": 0.75, "real_word_pairs": 1 / 3, "words": 4}
    assert quality.text_scores([np.zeros(8, "int32")], vocabulary) == {"real_words": 0.0, "real_word_pairs": 0.0,
                                                                       "words": 0}


@pytest.fixture(scope="module")
def shakespeare():
    """The embedded Tiny Shakespeare: the training text's (words, pairs) and the held-out byte tokens."""
    train = kdata.load_arrays("tinyshakespeare", "train", source="embedded")
    return quality.text_vocabulary(train), np.asarray(kdata.load_arrays("tinyshakespeare", "test", source="embedded"))


def test_text_measure_real_text_near_ceiling_noise_and_shuffled_letters_near_floor(shakespeare):
    vocabulary, test = shakespeare
    windows = [test[s:s + 256] for s in np.linspace(0, len(test) - 256, 64).astype(int)]
    real = quality.text_scores(windows, vocabulary)
    assert real["real_words"] >= 0.9 and real["real_word_pairs"] >= 0.4 and real["words"] >= 2000
    rng = np.random.default_rng(0)
    noise = quality.text_scores(rng.integers(0, 256, (64, 256)), vocabulary)
    assert noise["real_words"] <= 0.2 and noise["real_word_pairs"] <= 0.02
    shuffled = [rng.permutation(w) for w in windows]  # the same letters, out of order
    mixed = quality.text_scores(shuffled, vocabulary)
    assert mixed["real_words"] <= 0.2 and mixed["real_word_pairs"] <= 0.02
    # whole words shuffled keep every word real but break the pairs
    words = [w for window in windows for w in quality.text_words(window)]
    rng.shuffle(words)
    reordered = np.frombuffer(b" " + b" ".join(words) + b" ", dtype=np.uint8)
    scores = quality.text_scores([reordered], vocabulary)
    assert scores["real_words"] == pytest.approx(real["real_words"], abs=1e-9)
    assert scores["real_word_pairs"] <= real["real_word_pairs"] - 0.2


@pytest.mark.one_backend("tensorflow")  # cached byte sampling: seconds here, longer op by op on torch
def test_score_model_of_a_text_model():
    model = zoo.get("lstm_lm.tiny", num_levels=256)
    report = quality.score_model(model, data="tinyshakespeare", num_samples=6, seed=1, source="embedded")
    assert set(report.rows) == {"real", "model", "untrained"}
    for row in report.rows.values():
        assert set(row) == {"real_words", "real_word_pairs", "words"}
    assert report.rows["real"]["real_words"] >= 0.9 and report.judge == "the tinyshakespeare training text"
    assert report.rows["untrained"]["real_words"] <= 0.3
    assert "real_word_pairs" in "\n".join(report.lines())
    again = quality.score_model(model, data="tinyshakespeare", num_samples=6, seed=1, source="embedded")
    assert again.rows == report.rows  # same seed, same samples, same numbers


def test_kgen_score_a_run_folder(tmp_path, capsys):
    """`kgen score RUN` reads the run's data set and source from its recipe and writes the report."""
    recipe = tmp_path / "r.toml"
    recipe.write_text('model = "pixelcnn.tiny"\n[model_args]\nimage_shape = [28, 28, 1]\n[data]\n'
                      'name = "binarized_mnist"\nsource = "embedded"\n')
    run = tmp_path / "run"
    assert cli.main(["train", str(recipe), "--out", str(run), "--epochs", "1", "--steps-per-epoch", "2",
                     "--batch-size", "8", "--eval-split", "test[:16]", "--monitor-split", "", "--samples", "0",
                     "--verbose", "0"]) == 0
    capsys.readouterr()
    out = tmp_path / "score.json"
    assert cli.main(["score", str(run), "--num", "8", "--seed", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"{run} on binarized_mnist: 8 samples, seed 1, judged by digit_classifier.mnist" in printed
    report = json.loads(out.read_text())
    assert report["data"] == "binarized_mnist" and set(report["rows"]) == {"real", "model", "untrained"}
    assert "accuracy" not in report["rows"]["model"]  # unconditional: no conditioned label to check


def test_the_readme_results_table_is_current():
    """README.md's results table is what tools/results_table.py prints from the presets and zoo/quality/."""
    import results_table as module

    assert module.main(["--check"]) == 0, "run: python tools/results_table.py, and paste it into README.md"


@pytest.mark.one_backend("jax")  # the compiled frame loop: seconds a video here, minutes op by op on torch
def test_score_model_of_a_video_model(image_judge):
    model = zoo.get("video_pixel_network.tiny", frame_shape=(32, 32, 1))
    report = quality.score_model(model, data="moving_mnist", num_samples=3, seed=0, source="embedded",
                                 judge=image_judge)
    assert report.rows["real"]["kept"] >= 0.8 and len(report.rows["model"]["per_frame"]) == 10
    assert report.rows["untrained"]["both_kept_all_frames"] <= 0.34
    assert "per generated frame (model)" in "\n".join(report.lines())
    with pytest.raises(ValueError, match="needs frames of at least 28 pixels"):
        quality.score_model(zoo.get("video_pixel_network.tiny"), data="moving_mnist", num_samples=2,
                            judge=image_judge)


def test_score_flags_repeat_how_a_report_was_made(tmp_path):
    """tools/score_flags.py: tools/score_presets.sh scores a preset again with its report's samples, seed and
    guidance; no report, no flags; a file far larger than a report is refused."""
    import score_flags as module

    report = tmp_path / "r.json"
    assert module.flags(report) == []
    report.write_text(json.dumps({"num_samples": 400, "seed": 2, "guidance": 3.0}))
    assert module.flags(report) == ["--num", "400", "--seed", "2", "--guidance", "3.0"]
    report.write_text(json.dumps({"num_samples": 50, "seed": 0}))  # a report from before guidance
    assert module.flags(report) == ["--num", "50", "--seed", "0"]
    report.write_text(" " * (module.MAX_BYTES + 1))
    with pytest.raises(SystemExit, match="more than a report's"):
        module.flags(report)
