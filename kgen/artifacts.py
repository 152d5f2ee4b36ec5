"""What a trained model writes: image grids, completions, WAV audio, text, filter pictures, codes.

The model classes call these from their contract methods (`write_artifacts`, `write_sample_file`, ...); every file is
written atomically (a temporary file, then a rename).
"""

import math
from pathlib import Path

import numpy as np

from kgen import data as kdata
from kgen.io import atomic_path, save_image_grid

SAMPLES_FILE = "samples.png"
FILTERS_FILE = "filters.png"
#: Rows sampled at once by the commands (`kgen sample`, `kgen complete`): the unit of their progress bar.
SAMPLE_BATCH_SIZE = 16


def batch_seed(seed, index):
    """The seed of batch `index` of a batched sampling: `seed` itself for the first batch (a single batch draws what
    one call with `seed` draws), then seeds derived from (seed, index)."""
    if index == 0:
        return seed
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0] % (2**31 - 1))


def sample_in_batches(draw, num, batch_size=None, seed=0, progress=None, unit_name="batch"):
    """`num` rows drawn `batch_size` at a time, with a progress bar over the batches where `progress` (True, False or
    None, the default: where someone watches, a terminal or a notebook; KGEN_PROGRESS=0 turns it off; see
    kgen.progress).

    `draw(indices, seed)` returns one row per index (an int array of the rows to draw). Every call has the same
    batch size (the last batch repeats its last row, and the extra rows are dropped), so a compiled sampling loop is
    traced once; batch i is seeded with `batch_seed(seed, i)`. `batch_size` None draws everything in one call.
    """
    from kgen.progress import Progress

    batch = num if batch_size is None else max(1, min(int(batch_size), num))
    starts = range(0, num, batch)
    bar = Progress(len(starts), unit_name=unit_name, show=progress)
    out = []
    for i, start in enumerate(starts):
        indices = np.minimum(np.arange(start, start + batch), num - 1)
        out.append(np.asarray(draw(indices, batch_seed(seed, i)))[: min(batch, num - start)])
        bar.add(1)
    return np.concatenate(out)


def write_samples(model, path, num_samples=16, seed=0, labels=None, batch_size=None, progress=None):
    """Sample images and write them as a PNG grid (pixel levels scaled to 0..255).

    For a class-conditional model without `labels`, the grid has one row per class (`num_samples` is rounded up to
    a multiple of the number of classes); with `labels` (an int or one per image) every image has its given class.
    With `batch_size`, the images are drawn that many at a time (see `sample_in_batches`), with a progress bar over
    the batches where `progress`.
    """
    ncols = int(math.ceil(math.sqrt(num_samples)))
    if model.conditional and labels is None:
        per_class = max(1, int(math.ceil(num_samples / model.num_classes)))
        labels = np.repeat(np.arange(model.num_classes), per_class)
        num_samples, ncols = len(labels), per_class
    per_image = labels is not None and np.ndim(labels) > 0
    if per_image:
        labels = np.asarray(labels)

    def draw(indices, batch_seed):
        return model.sample(len(indices), seed=batch_seed, labels=labels[indices] if per_image else labels)

    images = sample_in_batches(draw, num_samples, batch_size, seed, progress)
    save_image_grid(levels_to_uint8(images, model.distribution.num_levels), path, ncols=ncols, scale=4)
    return images


def write_completions(model, images, path, rows, num_completions=3, seed=0, labels=None, batch_size=None,
                      progress=None):
    """Image completion as in the PixelRNN paper: keep the top `rows` rows of each real image, sample the rest.

    Writes a PNG grid with one line per image: the occluded image (hidden part mid-grey), `num_completions`
    completions, and the original. Returns the completions, shape (N, num_completions, H, W, C). `batch_size` and
    `progress` as in `write_samples` (the rows are the N * num_completions completions).
    """
    images = model.validate_images(images, "images")
    h = model.image_shape[0]
    if not isinstance(rows, (int, np.integer)) or not 0 <= rows < h:
        raise ValueError(f"`rows` must be an int in 0..{h - 1} (the given top rows), got {rows!r}.")
    num_completions = int(num_completions)
    if num_completions < 1:
        raise ValueError(f"`num_completions` must be a positive int, got {num_completions!r}.")
    n = len(images)
    repeated = np.repeat(images, num_completions, axis=0)
    if labels is not None:
        labels = np.repeat(model.validate_labels(labels, n), num_completions)

    def draw(indices, batch_seed):
        return model.sample(len(indices), seed=batch_seed, prompt=repeated[indices, :rows],
                            labels=None if labels is None else labels[indices])

    done = sample_in_batches(draw, n * num_completions, batch_size, seed, progress)
    done = done.reshape((n, num_completions) + model.image_shape)
    levels = model.distribution.num_levels
    occluded = levels_to_uint8(images, levels)
    occluded[:, rows:] = 128
    tiles = [occluded[:, None], levels_to_uint8(done, levels), levels_to_uint8(images, levels)[:, None]]
    grid = np.concatenate(tiles, axis=1).reshape((-1,) + model.image_shape)
    save_image_grid(grid, path, ncols=num_completions + 2, scale=4)
    return done


def write_video_strips(model, videos, path, context=10, frames=10, seed=0, gif=True, batch_size=None, progress=None):
    """Next-frame generation from real videos: the first `context` frames given, `frames` generated.

    Writes a PNG with three strips per video (its context frames; the generated frames; the true frames), and
    with `gif` an animated GIF beside it (same name, .gif): truth left and generation right, the context frames
    shown in both; both files or neither (`kgen.io.write_files`). Returns the generated frames, uint8 (N, frames,
    H, W, C). `batch_size` and `progress` as in `write_samples` (over the videos).
    """
    import io

    from PIL import Image

    from kgen.io import image_grid_png, write_files

    videos = np.asarray(videos)
    if not isinstance(context, (int, np.integer)) or not isinstance(frames, (int, np.integer)) or frames < 1:
        raise ValueError(f"`context` and `frames` must be positive ints, got context={context!r}, frames={frames!r}.")
    if videos.ndim != 5 or videos.shape[1] < context + frames:
        raise ValueError(
            f"`videos` must be (batch, frames, H, W, C) with at least context + frames = {context + frames} frames, "
            f"got {videos.shape}."
        )
    given = videos[:, :context]
    generated = sample_in_batches(lambda indices, batch_seed: model.sample(given[indices], frames, seed=batch_seed),
                                  len(given), batch_size, seed, progress)
    truth = videos[:, context : context + frames].astype("uint8")
    n, (h, w, c) = len(videos), videos.shape[2:]
    columns = max(context, frames)
    blank = np.zeros((n, columns) + (h, w, c), "uint8")
    strips = [blank.copy(), blank.copy(), blank.copy()]
    strips[0][:, :context] = given.astype("uint8")
    strips[1][:, :frames] = generated
    strips[2][:, :frames] = truth
    grid = np.stack(strips, axis=1).reshape((-1, h, w, c))
    files = [(path, image_grid_png(grid, ncols=columns, scale=2))]
    if gif:
        gutter = np.full((n, context + frames, h, 2, c), 255, "uint8")
        left = np.concatenate([given.astype("uint8"), truth], axis=1)
        right = np.concatenate([given.astype("uint8"), generated], axis=1)
        panels = np.concatenate([left, gutter, right], axis=3)  # (N, T, H, 2W + 2, C)
        movie = np.concatenate(list(panels), axis=1)[..., 0]  # the videos one above the other: (T, N * H, 2W + 2)
        images = [Image.fromarray(f).resize((f.shape[1] * 2, f.shape[0] * 2), Image.NEAREST) for f in movie]
        animation = io.BytesIO()
        images[0].save(animation, format="GIF", save_all=True, append_images=images[1:], duration=200, loop=0)
        files.append((Path(path).with_suffix(".gif"), animation.getvalue()))
    write_files(files)
    return generated


TEXT_PROMPT = "ROMEO:\n"


def write_audio(model, path, seconds=1.0, label=None, prompt=None, rate=None, seed=0, method=None,
                spectrogram=True, progress=None, guidance=None):
    """Generate audio with a sequence model over 8-bit mu-law codes and write it as a 16-bit WAV file, and its
    spectrogram as a PNG beside it (same name, .png; see `spectrogram_path`).

    Args:
        model: a `WaveNet` (any sequence model over `num_levels` mu-law codes).
        path: the .wav file to write (atomically).
        seconds: length generated after the prompt.
        label: the class of a class-conditional model (e.g. the spoken digit).
        prompt: a float waveform in [-1, 1] to continue (its codes are kept at the start of the file).
        rate: samples per second (None: the model's own `sample_rate`, which it then must record).
        spectrogram: also write the spectrogram PNG (atomically, after the WAV).
        progress: print each stage on stderr (the generation is one compiled loop: it has no finer progress).
        guidance: classifier-free guidance scale for a model trained for it (`sample`'s `guidance`), or None.
    Returns:
        the generated codes (int32, prompt included).
    """
    from kgen import audio
    from kgen.progress import Progress

    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0:
        raise ValueError(f"`seconds` must be a positive number, got {seconds!r}.")
    if rate is None:
        rate = model.sample_rate
        if rate is None:
            raise ValueError(f"`rate` is needed: this {type(model).__name__} records no sample rate "
                             "(`sample_rate` None in its config).")
    codes = None if prompt is None else audio.mu_law_encode(np.asarray(prompt, "float32"), model.num_levels)
    length = int(round(seconds * rate)) + (0 if codes is None else len(codes))
    stages = Progress(show=progress, label="kgen sample")
    stages.stage(f"generating {length - (0 if codes is None else len(codes)):,} samples (one compiled loop)")
    generated = model.sample(1, length, seed=seed, prompt=codes, labels=label, method=method, guidance=guidance)[0]
    wave = audio.mu_law_decode(generated, model.num_levels)
    stages.stage("writing the WAV file")
    audio.write_wav(path, wave, rate)
    if spectrogram:
        from kgen.plotting import write_spectrogram

        stages.stage("drawing the spectrogram")
        write_spectrogram(spectrogram_path(path), wave, rate)
    return generated


def spectrogram_path(wav_path):
    """Where `write_audio` puts the spectrogram of a WAV file: the same name with .png (samples/label3.png)."""
    return Path(wav_path).with_suffix(".png")


def write_text(model, path, prompt=TEXT_PROMPT, length=600, num_samples=1, sampler="top_k", seed=0, method=None,
               batch_size=None, progress=None):
    """Generate text from a byte-level sequence model continuing `prompt` and write it (UTF-8) to `path`.
    `batch_size` and `progress` as in `write_samples` (over the samples)."""
    from kgen.data.text import tokenize

    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"`prompt` must be a non-empty string, got {prompt!r}.")
    ids = tokenize(prompt)
    if model.max_length is not None:  # a model with a bounded context (a transformer) writes up to it
        length = min(length, model.max_length)
    if len(ids) >= length:
        raise ValueError(f"`length` ({length}) must exceed the prompt's {len(ids)} bytes.")

    def draw(indices, batch_seed):
        return model.sample(len(indices), length, seed=batch_seed, prompt=ids, sampler=sampler, method=method)

    tokens = sample_in_batches(draw, num_samples, batch_size, seed, progress)
    texts = [bytes(row.astype("uint8").tolist()).decode("utf-8", errors="replace") for row in tokens]
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n\n---\n\n".join(texts), encoding="utf-8")
    return texts


def write_filters(model, path):
    """Write a representation model's atoms or first-layer filters as a PNG grid; returns False when it has
    none to show."""
    from kgen.plotting import tile_filters

    filters = model.filters()
    if filters is None:
        return False
    tile_filters(filters, path)
    return True


def write_codes(model, recipe, path, split=None, batch_size=256, progress=None):
    """Encode a split of the recipe's data set and write `codes` (and `labels` where the data set has them) to an
    .npz file, atomically, with a progress bar over the batches where `progress`. Returns the codes."""
    from kgen.progress import Progress

    d = recipe["data"]
    split = split or d["eval_split"]
    arrays = kdata.load_arrays(d["name"], split=split, **({"source": d["source"]} if d.get("source") else {}))
    inputs, labels = (arrays[0], arrays[1]) if isinstance(arrays, tuple) else (arrays, None)
    starts = range(0, len(inputs), batch_size)
    bar = Progress(len(starts), unit_name="batch", show=progress)
    parts = []
    for start in starts:
        parts.append(model.encode(inputs[start : start + batch_size], batch_size=batch_size))
        bar.add(1)
    codes = np.concatenate(parts) if parts else model.encode(inputs, batch_size=batch_size)
    out = {"codes": codes}
    if labels is not None:
        out["labels"] = np.asarray(labels)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **out)
    return codes


def levels_to_uint8(images, levels):
    """Scale pixel levels 0..levels-1 to 0..255 for display."""
    return (np.asarray(images, dtype="float32") * (255.0 / (levels - 1))).round().astype("uint8")
