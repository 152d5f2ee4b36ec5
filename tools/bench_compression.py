"""Lossless compression with kgen's trained models against general-purpose and format-specific compressors.

For each task, one run codes held-out data with the shipped model (`kgen.zoo.get(name, pretrained=True)`) through
`kgen.compression` (constriction's range coder driven by the model's step-by-step tables), decodes it again and
checks the round trip is exact, and compresses the same data with gzip -9, bzip2 -9 and xz -9 (Python's gzip, bz2
and lzma modules at their highest level) and the format's own lossless coder (PNG at Pillow's maximum: level 9 and
optimize; FLAC at level 8 through soundfile, where installed). Tasks:

- `binarized_mnist`: the fixed binarisation of MNIST test digits with `pixelcnn.mnist`. The generic coders get the
  better of two layouts: one byte per pixel and packed bits (8 pixels a byte).
- `mnist_8bit`: the 8-bit MNIST test images with `pixelcnn.mnist_8bit` (one byte per pixel).
- `shakespeare`: the held-out Tiny Shakespeare text (its last 10%) with the byte models (`bytenet.shakespeare`,
  `lstm_lm.shakespeare`, `sparse_transformer.shakespeare`).
- `fsdd`: FSDD test recordings as 8-bit mu-law codes (what the model codes, one byte per sample) with
  `wavenet.fsdd`, conditioned on each recording's digit; FLAC gets the same codes as 8-bit PCM, one file each.

Columns, in bits per unit (image, byte/character, sample): each coder's size; `NLL` is the model's information
content of exactly the coded data (-log2 of each symbol's probability in the tables the coder used); `payload` is
the range coder's output; `file` adds the .kgz header (the binary header of format 2: the model name, digests, the
item table packed with deflate, a CRC-32; the items here are arrays, so they carry no file names). `overhead` =
payload / NLL - 1. `vs best` = best generic (gzip/bzip2/xz) over the .kgz file. Throughput: symbols coded per second (wall clock, after a warm-up that compiles the step), encoding
and decoding; each symbol is one call of the model's step on its batch of rows, so it grows with the batch size.

Usage (from the repository root, KGEN_DATA_DIR pointing at the data):

    KERAS_BACKEND=tensorflow python tools/bench_compression.py                  # all tasks, default sizes
    KERAS_BACKEND=tensorflow python tools/bench_compression.py --tasks shakespeare --text-bytes 20000
    KERAS_BACKEND=tensorflow python tools/bench_compression.py --smoke          # untrained tiny models: checks the script

Prints one line per model and task, then the same as JSON (--json FILE writes it).
"""

import argparse
import bz2
import gzip
import io
import json
import lzma
import math
import sys
import time

import numpy as np

TASKS = ("binarized_mnist", "mnist_8bit", "shakespeare", "fsdd", "out_of_domain")
TEXT_MODELS = ("bytenet.shakespeare", "lstm_lm.shakespeare", "sparse_transformer.shakespeare")


def generic_sizes(layouts):
    """{coder: (bytes, layout name)}: the smallest over the given {layout name: bytes} of each generic coder."""
    coders = {
        "gzip -9": lambda b: len(gzip.compress(b, 9, mtime=0)),
        "bzip2 -9": lambda b: len(bz2.compress(b, 9)),
        "xz -9": lambda b: len(lzma.compress(b, format=lzma.FORMAT_XZ, preset=9)),
    }
    out = {}
    for coder, size_of in coders.items():
        out[coder] = min((size_of(data), name) for name, data in layouts.items())
    return out


def png_sizes(images, binary):
    """(sum of one PNG per image, one PNG grid of all images), Pillow at compress_level 9 with optimize."""
    from PIL import Image

    def size(arr):
        img = Image.fromarray(arr.astype(np.uint8) * (255 if binary else 1), mode="L")
        if binary:
            img = img.convert("1")
        buffer = io.BytesIO()
        img.save(buffer, format="PNG", optimize=True, compress_level=9)
        return len(buffer.getvalue())

    per_file = sum(size(im[..., 0]) for im in images)
    n, h, w = images.shape[:3]
    cols = min(100, n)
    rows = math.ceil(n / cols)
    grid = np.zeros((rows * h, cols * w), np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = im[..., 0]
    return per_file, size(grid)


def flac_size(code_arrays, rate):
    """Sum of one FLAC file (8-bit PCM at `rate` Hz, level 8) per code sequence, or None without soundfile."""
    try:
        import soundfile
    except ImportError:
        return None
    total = 0
    for codes in code_arrays:
        buffer = io.BytesIO()
        pcm = ((codes.astype(np.int16) - 128) * 256).astype(np.int16)
        soundfile.write(buffer, pcm, rate, format="FLAC", subtype="PCM_S8", compression_level=1.0)
        total += len(buffer.getvalue())
    return total


def code(model, name, kind, items, labels, batch_size, segment_length=None):
    """Encode, decode, check; sizes and throughput."""
    from kgen import compression

    # Warm-up (not timed): the first call of each step function traces and compiles it.
    warm = batch_size or compression.DEFAULT_BATCH_SIZE  # one full batch: the same shapes as the timed run
    compression.encode_symbols(model, kind, items[:warm], labels=None if labels is None else labels[:warm],
                               batch_size=batch_size, segment_length=segment_length)
    t0 = time.perf_counter()
    payload, layout, item_info, stats = compression.encode_symbols(
        model, kind, items, labels=labels, batch_size=batch_size, segment_length=segment_length)
    encode_s = time.perf_counter() - t0
    header = {"format": compression.FORMAT_VERSION, "model": {"name": name, "weights_sha256":
              compression.weights_sha256(model)}, "backend": compression._backend(), "kind": kind,
              # arrays: no names; an audio item records the model's sample rate (the other kinds ignore it)
              "items": [dict(item, name="", method="model", rate=model.sample_rate) for item in item_info],
              **layout}
    blob = compression.pack(header, payload)
    parsed, parsed_payload = compression.unpack(blob)
    t0 = time.perf_counter()
    decoded = compression.decode_symbols(model, kind, parsed_payload, parsed, parsed["items"])
    decode_s = time.perf_counter() - t0
    exact = all(np.array_equal(np.asarray(a).reshape(-1), np.asarray(b).reshape(-1)) for a, b in zip(items, decoded))
    return {
        "payload_bytes": len(payload),
        "file_bytes": len(blob),
        "information_bits": stats["information_bits"],
        "symbols": stats["symbols"],
        "encode_symbols_per_s": stats["symbols"] / encode_s,
        "decode_symbols_per_s": stats["symbols"] / decode_s,
        "encode_s": encode_s,
        "decode_s": decode_s,
        "exact": bool(exact),
    }


def row(task, model_name, unit, units, raw_bytes, generic, special, special_name, coded, note=""):
    best_generic = min(v[0] for v in generic.values())
    per = lambda nbytes: 8.0 * nbytes / units  # noqa: E731
    return {
        "task": task, "model": model_name, "unit": unit, "units": units, "raw_bytes": raw_bytes,
        "raw": per(raw_bytes),
        **{k: per(v[0]) for k, v in generic.items()},
        "generic_layouts": {k: v[1] for k, v in generic.items()},
        special_name: None if special is None else per(special),
        "nll": coded["information_bits"] / units,
        "payload": per(coded["payload_bytes"]),
        "file": per(coded["file_bytes"]),
        "header_bytes": coded["file_bytes"] - coded["payload_bytes"],
        "overhead": 8.0 * coded["payload_bytes"] / coded["information_bits"] - 1.0,
        "vs_best_generic": best_generic / coded["file_bytes"],
        "encode_symbols_per_s": coded["encode_symbols_per_s"],
        "decode_symbols_per_s": coded["decode_symbols_per_s"],
        "exact": coded["exact"],
        "note": note,
    }


def get_model(name, smoke):
    import kgen

    if smoke:
        return kgen.zoo.get({"pixelcnn.mnist": "pixelcnn.tiny", "bytenet.shakespeare": "bytenet.tiny",
                             "lstm_lm.shakespeare": "lstm_lm.tiny", "sparse_transformer.shakespeare":
                             "sparse_transformer.tiny", "wavenet.fsdd": "wavenet.tiny"}.get(name, name))
    return kgen.zoo.get(name, pretrained=True)


def task_images(task, args):
    import kgen

    binary = task == "binarized_mnist"
    name = "pixelcnn.mnist" if binary else "pixelcnn.mnist_8bit"
    split = f"test[:{args.images}]"
    images, _ = kgen.data.load_arrays("binarized_mnist" if binary else "mnist", split)
    images = np.asarray(images).astype(np.uint8)
    if args.smoke:
        if binary:
            images = images[:, 10:18, 10:18]
        else:
            return []
    model = get_model(name, args.smoke)
    layouts = {"one byte per pixel": images.tobytes()}
    if binary:
        layouts["packed bits"] = np.packbits(images.reshape(-1)).tobytes()
    generic = generic_sizes(layouts)
    per_file, grid = png_sizes(images, binary)
    coded = code(model, name, "image", list(images), None, args.batch_size)
    note = f"PNG: one grid image {8 * grid / len(images):.1f} bits/image, one file per image {8 * per_file / len(images):.1f}"
    return [row(task, name, "image", len(images), images.size, generic, min(per_file, grid), "png", coded, note)]


def task_text(args):
    import kgen

    tokens = np.asarray(kgen.data.load_arrays("tinyshakespeare", "test"), dtype=np.int32)
    if args.text_bytes:
        tokens = tokens[: args.text_bytes]
    data = tokens.astype(np.uint8).tobytes()
    generic = generic_sizes({"bytes": data})
    out = []
    for name in TEXT_MODELS:
        model = get_model(name, args.smoke)
        if args.smoke and "bytes" not in model.coding_kinds:
            continue  # a tiny test model with fewer than 256 levels
        coded = code(model, name, "bytes", [tokens], None, args.batch_size, args.segment_length)
        segment = args.segment_length or min(4096, model.coding_max_length or 4096)
        out.append(row("shakespeare", name, "byte", len(tokens), len(data), generic, None, "png", coded,
                       note=f"{math.ceil(len(tokens) / segment)} segments of <= {segment} bytes"))
    return out


def task_fsdd(args):
    import kgen
    from kgen import audio

    waves, digits, _ = kgen.data.load_arrays("fsdd", "test")
    waves, digits = waves[:: args.fsdd_every], digits[:: args.fsdd_every]
    model = get_model("wavenet.fsdd", args.smoke)
    codes = [audio.mu_law_encode(w, model.num_levels).astype(np.int32) for w in waves]
    if args.smoke:
        codes = [c[:300] for c in codes[:3]]
        digits = digits[:3]
    data = b"".join(c.astype(np.uint8).tobytes() for c in codes)
    generic = generic_sizes({"one byte per sample": data})
    flac = flac_size(codes, model.sample_rate)
    labels = digits if model.conditional else None
    coded = code(model, "wavenet.fsdd", "audio", codes, labels, args.batch_size, args.segment_length)
    n = sum(len(c) for c in codes)
    return [row("fsdd", "wavenet.fsdd", "sample", n, len(data), generic, flac, "flac", coded,
                note=f"{len(codes)} recordings (test[::{args.fsdd_every}])" + ("" if flac is not None else
                     "; FLAC: soundfile not installed"))]


def task_out_of_domain(args):
    """Whole .kgz files through `kgen.compression.compress` (each item coded with the model, stored, or packed with
    LZMA2, whichever is smallest), on data the models were not trained on, and a small in-domain file: English prose
    that is not Shakespeare (this repository's LICENSE, the Apache License 2.0), random bytes, MNIST-shaped noise
    (binary images with independent pixels, half of them white), and 230 bytes of held-out Shakespeare."""
    import tempfile
    from pathlib import Path

    import kgen
    from kgen import compression

    rng = np.random.default_rng(0)
    licence = (Path(__file__).resolve().parents[1] / "LICENSE").read_bytes()
    held_out = np.asarray(kgen.data.load_arrays("tinyshakespeare", "test"), dtype=np.uint8).tobytes()
    noise = (rng.random((args.noise_images, 28, 28)) < 0.5).astype(np.uint8)
    cases = [
        ("English prose (LICENSE)", "bytenet.shakespeare", {"LICENSE": licence[: args.text_bytes or None]}),
        ("random bytes", "bytenet.shakespeare", {"random.bin": rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()}),
        ("small file, 230 bytes", "bytenet.shakespeare", {"romeo.txt": held_out[1000:1230]}),
        ("MNIST-shaped noise", "pixelcnn.mnist", {f"{i}.png": im for i, im in enumerate(noise)}),
    ]
    out = []
    for task, name, items in cases:
        model = get_model(name, args.smoke)
        if args.smoke and name == "pixelcnn.mnist":
            items = {k: v[10:18, 10:18] for k, v in items.items()}
        with tempfile.TemporaryDirectory() as folder:
            paths = []
            for item_name, data in items.items():
                path = Path(folder) / item_name
                if path.suffix == ".png":
                    from PIL import Image

                    Image.fromarray(data * 255, mode="L").convert("1").save(path)
                    raw = data.tobytes()
                else:
                    path.write_bytes(data)
                paths.append(path)
            raw = b"".join(v.tobytes() if isinstance(v, np.ndarray) else v for v in items.values())
            t0 = time.perf_counter()
            report = compression.compress(model, paths, Path(folder) / "x.kgz", model_name=name, progress=False)
            seconds = time.perf_counter() - t0
            restored = compression.decompress(Path(folder) / "x.kgz", model, Path(folder) / "out", progress=False)
            exact = all(a.read_bytes() == b.read_bytes() for a, b in zip(paths, restored)
                        if a.suffix != ".png")
        layouts = {"bytes": raw}
        if name == "pixelcnn.mnist":
            layouts["packed bits"] = np.packbits(np.frombuffer(raw, np.uint8)).tobytes()
        generic = generic_sizes(layouts)
        best = min(v[0] for v in generic.values())
        out.append({
            "task": task, "model": name, "items": len(items), "raw_bytes": len(raw),
            **{k: v[0] for k, v in generic.items()},
            "lzma2 (kgen's fallback)": len(compression._lzma(raw)),
            "kgz_bytes": report["file_bytes"], "header_bytes": report["header_bytes"], "methods": report["methods"],
            "model_nll_bytes": report["information_bits"] / 8.0, "kgz_vs_best_generic": best / report["file_bytes"],
            "kgz_vs_raw": len(raw) / report["file_bytes"], "compress_s": seconds, "exact": bool(exact),
        })
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    p.add_argument("--images", type=int, default=1000, help="MNIST test images per image task (the first N)")
    p.add_argument("--text-bytes", type=int, default=0, help="first N bytes of the held-out text (0: all of it)")
    p.add_argument("--fsdd-every", type=int, default=10, help="every k-th FSDD test recording (default: 30 of 300)")
    p.add_argument("--batch-size", type=int, default=None, help="rows coded at once (default: kgen's)")
    p.add_argument("--segment-length", type=int, default=None, help="sequence segment length (default: kgen's)")
    p.add_argument("--noise-images", type=int, default=100, help="out_of_domain: MNIST-shaped noise images")
    p.add_argument("--smoke", action="store_true", help="tiny untrained models and data: checks the script runs")
    p.add_argument("--json", help="also write the rows here")
    args = p.parse_args(argv)
    if args.smoke:
        args.images, args.text_bytes = min(args.images, 20), min(args.text_bytes or 600, 600)

    import keras

    print(f"backend {keras.backend.backend()}; bits per unit; NLL = the model's information content of the coded "
          "data; overhead = payload / NLL - 1; vs best = best of gzip/bzip2/xz over the .kgz file")
    rows = []
    for task in args.tasks:
        if task in ("binarized_mnist", "mnist_8bit"):
            new = task_images(task, args)
        elif task == "shakespeare":
            new = task_text(args)
        elif task == "out_of_domain":
            new = task_out_of_domain(args)
            rows += new
            for r in new:
                print(f"{r['task']:24s} {r['model']:20s} {r['items']:>4} item(s) {r['raw_bytes']:>8,} B | gzip "
                      f"{r['gzip -9']:,} bzip2 {r['bzip2 -9']:,} xz {r['xz -9']:,} | .kgz {r['kgz_bytes']:,} B "
                      f"(header {r['header_bytes']} B; {r['methods']}) | model NLL {r['model_nll_bytes']:,.0f} B | "
                      f"vs best {r['kgz_vs_best_generic']:.3f}x, vs raw {r['kgz_vs_raw']:.3f}x | exact {r['exact']}",
                      flush=True)
            continue
        else:
            new = task_fsdd(args)
        rows += new
        for r in new:
            special = r.get("png", r.get("flac"))
            special_name = "PNG" if "png" in r else "FLAC"
            print(
                f"{r['task']:15s} {r['model']:30s} {r['units']:>9,} {r['unit']}s | raw {r['raw']:.2f} | "
                f"gzip {r['gzip -9']:.3f} bzip2 {r['bzip2 -9']:.3f} xz {r['xz -9']:.3f} | "
                f"{special_name} {'n/a' if special is None else format(special, '.3f')} | NLL {r['nll']:.4f} "
                f"payload {r['payload']:.4f} file {r['file']:.4f} (header {r['header_bytes']} B) | overhead "
                f"{r['overhead']:+.4%} | vs best {r['vs_best_generic']:.3f}x | enc {r['encode_symbols_per_s']:,.0f} "
                f"dec {r['decode_symbols_per_s']:,.0f} symbols/s | exact {r['exact']} | {r['note']}",
                flush=True,
            )
    text = json.dumps(rows, indent=1)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text)
    return 0 if all(r["exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
