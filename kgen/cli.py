"""The `kgen` command: list, train, evaluate, sample, complete, encode, compress, decompress, export, plot."""

import argparse
import fnmatch
import json
import os
import sys
from pathlib import Path


def _cmd_list(args):
    """Answers from kgen/catalog.json and the recipe files: no Keras, no TensorFlow (see kgen/catalog.py)."""
    if args.recipes:
        from kgen import recipes

        for name in recipes.available():
            if fnmatch.fnmatch(name, args.pattern):
                print(f"{name:40s} {recipes.load(recipes.find(name))['description']}")
        return 0
    from kgen import catalog

    try:
        shipped = catalog.load()
    except FileNotFoundError:  # a package without its catalog: ask the registry itself (seconds, not milliseconds)
        import kgen.models  # noqa: F401  (registers every family)
        from kgen import zoo

        for name in zoo.list_models(args.pattern, pretrained=args.pretrained):
            print(f"{name:24s} {zoo.describe(name)[0]}")
        return 0
    for name in catalog.list_models(args.pattern, pretrained=args.pretrained, catalog=shipped):
        print(f"{name:24s} {catalog.describe(name, catalog=shipped)}")
    return 0


def _apply_overrides(recipe, args):
    from kgen import recipes

    t, d = recipe["train"], recipe["data"]
    for key in ("epochs", "steps_per_epoch", "batch_size", "learning_rate", "time_budget_minutes", "seed", "dtype",
                "ema_momentum", "distribute", "num_devices"):
        value = getattr(args, key, None)
        if value is not None:
            t[key] = value
    if getattr(args, "constant_learning_rate", False):  # no warm-up, no decay: the rate of an equal-budget comparison
        t.update(warmup_steps=0, schedule="constant", decay_steps=None, final_lr_ratio=0.0)
    if getattr(args, "data_source", None) is not None:
        d["source"] = args.data_source
    for key in ("train_split", "eval_split", "monitor_split"):
        value = getattr(args, key, None)
        if value is not None:
            d[key] = value
    return recipes.validate(recipe, "the recipe with the command's flags")


def _cmd_train(args):
    """The whole run is `kgen.training.run`'s (a script calling it gets the same run folder); this parses and
    prints."""
    from kgen import training

    recipe = _apply_overrides(training.resolve_recipe(args.target), args)
    result = training.run(recipe, args.out, resume=args.resume, verbose=args.verbose,
                          allow_data_change=args.allow_data_change, evaluate=not args.no_eval,
                          num_samples=args.samples)
    for line in result.lines():
        print(line)
    return 0


def _cmd_evaluate(args):
    from kgen import data, recipes, training

    model = training.load_model(args.model)
    recipe = _run_recipe(args.model)
    if recipe is None:
        if args.data is None:
            raise ValueError(
                f"`--data` is required: {args.model!r} has no run recipe beside it (recipe.json) to name its data "
                f"set; data sets: {', '.join(data.NAMES)}.")
        recipe = recipes.from_model(model.name)
    recipe["data"]["name"] = args.data or recipe["data"]["name"]
    if args.data_source is not None:
        recipe["data"]["source"] = args.data_source
    result = training.evaluate(model, recipe, split=args.split, verbose=args.verbose)
    print(json.dumps(result))
    if args.out:
        training.write_json(args.out, result)
    return 0


def _cmd_sample(args):
    from kgen import zoo
    from kgen.validation import check_guidance

    if Path(args.model).suffix == ".keras" or Path(args.model).is_dir():
        model = _coding_model(args.model)  # a .keras file, a run folder or a preset folder
    elif args.model in zoo.list_models(pretrained=True):
        model = zoo.get(args.model, pretrained=True)
        print(f"note: {args.model!r} with the trained weights kgen ships", file=sys.stderr)
    else:
        model = zoo.get(args.model)  # an untrained zoo model: useful to check the pipeline
        print(f"note: {args.model!r} is an untrained zoo model; pass a .keras file for a trained one", file=sys.stderr)
    # Only the options the user gave: the model's own defaults (its sample rate, say) apply to the others.
    options = {name: getattr(args, name) for name in _SAMPLE_OPTIONS if getattr(args, name) is not None}
    check_guidance(model, args.guidance, "--guidance")  # before any sampling
    recipe = _run_recipe(args.model) if Path(args.model).exists() else None
    if recipe is not None:  # a run folder's recipe: its data set (the real frames a video model continues)
        options["recipe"] = recipe
    print(model.write_sample_file(args.out, progress=_progress(args), **options))
    return 0


#: The `kgen sample` flags that are `write_sample_file` options; each defaults to None, meaning "not given".
_SAMPLE_OPTIONS = ("num", "seed", "label", "seconds", "prompt", "rate", "text_prompt", "length", "sampler",
                   "context", "frames", "data_source", "guidance")


def _cmd_complete(args):
    from kgen import training

    model = training.load_model(args.model)
    recipe = _run_recipe(args.model)
    name = args.data or (recipe["data"]["name"] if recipe is not None else None)
    if name is None:
        raise ValueError("`--data` is required: the model file has no run recipe beside it to name its data set.")
    source = args.data_source
    if source is None and args.data is None:  # the run's own data set: from where the run read it
        source = recipe["data"].get("source")
    print(model.write_completions_file(
        args.out, name, split=args.split, source=source, num=args.num, rows=args.rows,
        completions=args.completions, seed=args.seed, progress=_progress(args),
    ))
    return 0


def _cmd_encode(args):
    from kgen import recipes, training

    model = training.load_model(args.model)
    recipe = _run_recipe(args.model)
    if recipe is None and args.data is None:
        raise ValueError("`--data` is required: the model file has no run recipe beside it to name its data set.")
    if recipe is None:
        recipe = recipes.from_model(model.name)
    if args.data:
        recipe["data"]["name"] = args.data
    if args.data_source is not None:
        recipe["data"]["source"] = args.data_source
    print(model.write_codes_file(args.out, recipe, split=args.split, progress=_progress(args)))
    return 0


def _progress(args):
    """The one rule of the commands' progress on stderr: --verbose 1 shows it, 0 hides it, and without the flag it
    is shown when stderr is a terminal (see kgen/progress.py)."""
    from kgen.progress import wanted

    return wanted(args.verbose)


def _run_recipe(model_path):
    """The recipe saved beside a trained model (its run folder), or None."""
    from kgen import training

    run_dir = Path(model_path) if Path(model_path).is_dir() else Path(model_path).parent
    recipe_file = run_dir / training.RECIPE_FILE
    return training.read_run_recipe(recipe_file) if recipe_file.is_file() else None


def _cmd_score(args):
    from kgen import quality, training

    report = quality.score(args.model, num_samples=args.num, seed=args.seed, data=args.data,
                           source=args.data_source, judge=args.judge, guidance=args.guidance)
    for line in report.lines():
        print(line)
    if args.out:
        training.write_json(args.out, report.to_json())
    return 0


def _cmd_export(args):
    from kgen import export, training

    model = training.load_model(args.model)
    export.export_for_serving(model, args.out, progress=_progress(args))
    print(f"exported a SavedModel with a 'serve' signature to {args.out}")
    return 0


def _coding_model(spec):
    """The model of `kgen compress` / `decompress` / `sample`: a zoo preset with shipped weights, a preset folder,
    or a .keras file / run folder (`kgen.training.load_target`)."""
    from kgen import training

    return training.load_target(spec)[0]


def _cmd_compress(args):
    from kgen import compression

    model = _coding_model(args.model)
    report = compression.compress(
        model, args.inputs, args.out, model_name=args.model, labels=args.label, batch_size=args.batch_size,
        segment_length=args.segment_length, overwrite=args.force, progress=_progress(args))
    methods = ", ".join(f"{count} {method}" for method, count in sorted(report["methods"].items()))
    line = (f"{args.out}: {report['inputs']} {report['kind']} file(s), {report['input_bytes']:,} -> "
            f"{report['file_bytes']:,} bytes ({report['header_bytes']:,} of header; items: {methods})")
    if report["symbols"]:
        line += (f"; {report['bits_per_symbol']:.4f} bits/symbol in all, the model's own information content "
                 f"{report['information_bits'] / report['symbols']:.4f}")
    print(line)
    return 0


def _cmd_decompress(args):
    import os
    import subprocess

    from kgen import compression

    header = compression.read_header(args.file)
    backend = header.get("backend")
    if backend != compression._backend() and backend in ("tensorflow", "jax", "torch") \
            and os.environ.get("KGEN_DECOMPRESS_CHILD") != "1":
        # The tables must be recomputed on the backend that made them: run this command again under it.
        env = dict(os.environ, KERAS_BACKEND=backend, KGEN_DECOMPRESS_CHILD="1")
        return subprocess.run([sys.executable, "-m", "kgen.cli"] + list(args.argv), env=env).returncode
    model = _coding_model(args.model or header["model"]["name"])
    written = compression.decompress(args.file, model, args.out, overwrite=args.force, progress=_progress(args))
    print(f"{args.out}: {len(written)} {header['kind']} file(s) restored")
    return 0


def _cmd_plot(args):
    from kgen import plotting

    path = plotting.plot_curves(args.runs, args.out, metric=args.metric)
    print(f"wrote the learning curves of {len(args.runs)} run(s) to {path}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the argument, what was expected, and where the help is."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _number(kind, low, high=None, low_open=False):
    """An argparse type: a `kind` (int or float) in [low, high] (low excluded where `low_open`), with an error that
    says what was expected."""
    what = "an integer" if kind is int else "a number"
    bound = f"above {low}" if low_open else f"at least {low}"
    expected = f"{what} {bound}" + (f" and at most {high:,}" if high is not None else "")

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value != value or (value <= low if low_open else value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def _add_progress_flag(parser, unit):
    parser.add_argument("--verbose", type=_number(int, 0, 1), default=None,
                        help=f"1: progress on stderr ({unit}), 0: only the result line (default: progress when stderr "
                             "is a terminal)")


_SOURCES = ["local", "tfds", "embedded"]
_SOURCE_HELP = ("where the data comes from: local (files under KGEN_DATA_DIR), tfds (TensorFlow Datasets, needs the "
                "network the first time) or embedded (the small set inside the package); default: the recipe's")


def build_parser():
    from kgen.version import __version__

    p = _Parser(prog="kgen", description="kgen: Keras 3 generative model zoo. The Keras backend is KERAS_BACKEND "
                                         "(tensorflow, jax or torch).")
    p.add_argument("--version", action="version", version=f"kgen {__version__}",
                   help="print the kgen version and exit")
    p.add_argument("--debug", action="store_true",
                   help="show the Python traceback of an error, and TensorFlow's native log lines")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           help="list, train, evaluate, sample, complete, encode, compress, decompress, export, "
                                "plot (`kgen COMMAND --help` for each)")

    s = sub.add_parser("list", help="list registered models and presets, or the shipped recipes")
    s.add_argument("pattern", nargs="?", default="*", help="shell-style name pattern, e.g. 'pixel*' (default: all)")
    s.add_argument("--pretrained", action="store_true",
                   help="only the presets whose trained weights ship with kgen (kgen.zoo.get(name, pretrained=True))")
    s.add_argument("--recipes", action="store_true",
                   help="list the shipped training recipes (`kgen train NAME`) instead of the models")
    s.set_defaults(fn=_cmd_list, needs_models=False)

    s = sub.add_parser("train", help="train a recipe (recipes/NAME.toml or a path) or a zoo model")
    s.add_argument("target", help="recipe name (`kgen list --recipes`) or .toml path, or a zoo model name")
    s.add_argument("--out", required=True, help="run folder: model.keras, metrics.csv, backup/, eval.json")
    s.add_argument("--resume", action="store_true", help="continue an interrupted run in --out (its data files must "
                                                         "be those it started from: see data.json in the run folder)")
    s.add_argument("--allow-data-change", action="store_true",
                   help="with --resume: continue even though the run's data files changed since it started")
    s.add_argument("--epochs", type=_number(int, 1, 1_000_000), help="epochs (default: the recipe's)")
    s.add_argument("--steps-per-epoch", type=_number(int, 1, 10_000_000),
                   help="batches per epoch (default: the recipe's, or one pass over the data)")
    s.add_argument("--batch-size", type=_number(int, 1, 65_536), help="examples per batch (default: the recipe's)")
    s.add_argument("--learning-rate", type=_number(float, 0.0, 10.0, low_open=True),
                   help="Adam learning rate (default: the recipe's)")
    s.add_argument("--constant-learning-rate", action="store_true",
                   help="train at the learning rate throughout, without the recipe's warm-up and decay (as "
                        "tools/run_equal_budget.sh compares models at equal time)")
    s.add_argument("--time-budget-minutes", type=_number(float, 0.0, 525_600.0, low_open=True),
                   help="stop once training has run this many minutes (checked after every batch; counted across --resume)")
    s.add_argument("--seed", type=_number(int, 0, 2**31 - 1), help="seed of the weights and the data order")
    s.add_argument("--dtype", choices=("float32", "mixed_bfloat16", "mixed_float16"),
                   help="mixed precision: bfloat16 or float16 compute, float32 weights, heads and loss (default: the "
                        "recipe's, else float32)")
    s.add_argument("--ema-momentum", type=_number(float, 0.0, 1.0, low_open=True),
                   help="keep an exponential moving average of the weights (Polyak averaging) with this momentum, "
                        "below 1 (e.g. 0.999), and evaluate and save the average (default: the recipe's, else none)")
    s.add_argument("--distribute", choices=("none", "data_parallel"),
                   help="data_parallel: split each batch over the local devices (keras.distribution on jax, "
                        "tf.distribute.MirroredStrategy on tensorflow; default: the recipe's, else none)")
    s.add_argument("--num-devices", type=_number(int, 1, 65_536),
                   help="devices of --distribute data_parallel (default: every local GPU/TPU, else every CPU device)")
    s.add_argument("--data-source", choices=_SOURCES, help=_SOURCE_HELP)
    s.add_argument("--train-split", help="training split: 'train', 'test' or a slice such as 'train[:50000]'")
    s.add_argument("--eval-split", help="split of the final evaluation (default: the recipe's, usually 'test')")
    s.add_argument("--monitor-split", help="split evaluated after every epoch for the curve ('' for none)")
    s.add_argument("--samples", type=_number(int, 0, 1024),
                   help="samples written at the end of the run (0: none; default: the recipe's)")
    s.add_argument("--no-eval", action="store_true", help="skip the final evaluation")
    s.add_argument("--verbose", type=_number(int, 0, 2), default=None,
                   help="0: silent, 1: Keras progress bars, 2: one line per epoch (default: bars when stdout is a "
                        "terminal, one line per epoch when it is a file or a pipe; KGEN_PROGRESS=0 or 1 chooses)")
    s.set_defaults(fn=_cmd_train, output=("folder", "--out"))

    s = sub.add_parser("evaluate", help="evaluate a .keras model (or run folder) on a data split")
    s.add_argument("model", help=".keras file or run folder")
    s.add_argument("--data", help="data set name (default: the run's recipe; required for a model outside its run "
                                  "folder)")
    s.add_argument("--split", default=None, help="split to evaluate (default: the recipe's evaluation split)")
    s.add_argument("--data-source", choices=_SOURCES, help=_SOURCE_HELP)
    s.add_argument("--out", help="also write the result as JSON here")
    s.add_argument("--verbose", type=_number(int, 0, 2), default=None,
                   help="0: silent, 1: progress bar, 2: one line at the end (default: 1 when stdout is a terminal, "
                        "else 2)")
    s.set_defaults(fn=_cmd_evaluate, output=("file", "--out"))

    s = sub.add_parser(
        "sample",
        help="sample from a .keras model: images into a PNG grid, video frames into PNG strips and a GIF, audio into "
             "a .wav, text into a .txt",
    )
    s.add_argument("model", help=".keras file, run folder, preset folder, or zoo name (with its shipped weights where "
                   "`kgen list --pretrained` lists it, else untrained)")
    s.add_argument("--out", required=True,
                   help=".png (image models; video models: strips, plus a .gif), .wav (audio models) or .txt (text models)")
    # Every option below defaults to None, "not given": the model's own default applies (see _cmd_sample).
    s.add_argument("--num", type=_number(int, 1, 1024), default=None,
                   help="samples (default: 16 images, 4 videos, 1 text)")
    s.add_argument("--seconds", type=_number(float, 0.0, 600.0, low_open=True), default=None,
                   help="audio: seconds generated after the prompt (default: 1)")
    s.add_argument("--prompt", help="audio: a WAV recording to continue")
    s.add_argument("--rate", type=_number(int, 1, 384_000), default=None,
                   help="audio: sample rate of the WAV written and of --prompt (default: the model's own sample rate)")
    s.add_argument("--text-prompt", help="text: the prompt to continue (default: 'ROMEO:\\n')")
    s.add_argument("--length", type=_number(int, 1, 1_000_000), default=None,
                   help="text: bytes per sample, prompt included (default: 600)")
    s.add_argument("--sampler", choices=["random", "greedy", "top_k", "top_p"], help="text: keras-nlp sampler (default top_k)")
    s.add_argument("--seed", type=_number(int, 0, 2**31 - 1), default=None,
                   help="seed: the same seed, the same samples (default: 0)")
    s.add_argument("--label", type=_number(int, 0), help="class of every sample (class-conditional models; default: a row per class)")
    s.add_argument("--guidance", type=_number(float, 0.0, 1000.0), default=None,
                   help="audio: classifier-free guidance scale w, logits u + w (c - u), for a model trained with "
                        "label dropout (wavenet.fsdd); 1: the conditional model (default: not guided)")
    s.add_argument("--context", type=_number(int, 1, 10_000),
                   help="video: real frames given (default: the model's num_context_frames)")
    s.add_argument("--frames", type=_number(int, 1, 10_000), help="video: frames generated after them (default: as many)")
    s.add_argument("--data-source", choices=_SOURCES, help="video: where the real frames come from")
    _add_progress_flag(s, "batches of 16 samples, or the stages of an audio sample")
    s.set_defaults(fn=_cmd_sample, output=("file", "--out"))

    s = sub.add_parser("complete", help="complete the bottom of real images from their top rows into a PNG")
    s.add_argument("model", help=".keras file or run folder")
    s.add_argument("--out", required=True, help="PNG: per image, occluded / completions / original")
    s.add_argument("--data", help="data set name (default: the run's recipe)")
    s.add_argument("--split", default="test", help="split the images come from (default: test)")
    s.add_argument("--data-source", choices=_SOURCES, help=_SOURCE_HELP)
    s.add_argument("--num", type=_number(int, 1, 256), default=8, help="images to complete")
    s.add_argument("--rows", type=_number(int, 1, 10_000), help="top rows given (default: half the image)")
    s.add_argument("--completions", type=_number(int, 1, 64), default=3, help="completions per image")
    s.add_argument("--seed", type=_number(int, 0, 2**31 - 1), default=0, help="seed: the same seed, the same completions")
    _add_progress_flag(s, "batches of 16 completions")
    s.set_defaults(fn=_cmd_complete, output=("file", "--out"))

    s = sub.add_parser("encode", help="encode a data split with a representation model into an .npz of codes")
    s.add_argument("model", help=".keras file or run folder")
    s.add_argument("--out", required=True, help=".npz file: codes (N, code_dim) and labels where the data has them")
    s.add_argument("--data", help="data set name (default: the run's recipe)")
    s.add_argument("--split", default=None, help="data split (default: the recipe's evaluation split)")
    s.add_argument("--data-source", choices=_SOURCES, help=_SOURCE_HELP)
    _add_progress_flag(s, "batches of 256 examples")
    s.set_defaults(fn=_cmd_encode, output=("file", "--out"))

    s = sub.add_parser(
        "compress",
        help="compress PNG images, WAV audio (as mu-law codes) or any file (as bytes) with an autoregressive model's "
             "probabilities into a .kgz file",
    )
    s.add_argument("model", help="zoo preset with shipped weights (e.g. pixelcnn.mnist; `kgen list --pretrained`), "
                                 "a preset folder, or a .keras file / run folder")
    s.add_argument("inputs", nargs="+", help="files of one kind: .png images, .wav recordings, or others as bytes")
    s.add_argument("--out", required=True, help="the .kgz file to write")
    s.add_argument("--label", type=_number(int, 0), help="class of every input, for a class-conditional model (e.g. the digit)")
    s.add_argument("--batch-size", type=_number(int, 1, 4096), help=f"rows coded at once (default {64})")
    s.add_argument("--segment-length", type=_number(int, 1, 10_000_000),
                   help="sequences are cut into segments of at most this many symbols (default 4096 or the "
                        "model's max_length)")
    s.add_argument("--force", action="store_true", help="replace --out if it exists")
    _add_progress_flag(s, "symbols")
    s.set_defaults(fn=_cmd_compress, output=("file", "--out"))

    s = sub.add_parser("decompress", help="restore the files of a .kgz file (made by kgen compress)")
    s.add_argument("file", help="the .kgz file")
    s.add_argument("--out", required=True, help="folder for the restored files (their original names)")
    s.add_argument("--model", help="the model it was made with (default: the preset named in the file)")
    s.add_argument("--force", action="store_true", help="replace files that exist in --out")
    _add_progress_flag(s, "symbols")
    s.set_defaults(fn=_cmd_decompress, output=("folder", "--out"))

    s = sub.add_parser("score", help="measure a trained model's samples against its data (kgen.quality): "
                                     "Frechet distance, confidence, conditional accuracy, digits kept in video, "
                                     "real words in text")
    s.add_argument("model", help="run folder, .keras file, preset folder, or a zoo preset with shipped weights")
    s.add_argument("--num", type=_number(int, 2, 100_000), default=None,
                   help="samples per row (default: the measure's: 256 images, 50 audio clips, 20 videos, "
                        "128 texts)")
    s.add_argument("--seed", type=_number(int, 0, 2**31 - 1), default=0, help="seed of the samples (default 0)")
    s.add_argument("--data", help="data set (default: the run's recipe, else the preset's)")
    s.add_argument("--data-source", choices=_SOURCES, help=_SOURCE_HELP)
    s.add_argument("--judge", help="the classifier (default: the measure's shipped preset; the text measure reads none)")
    s.add_argument("--guidance", type=_number(float, 0.0, 1000.0), default=None,
                   help="draw the model's (and the untrained floor's) samples with classifier-free guidance of this "
                        "scale (a class-conditional model trained with label dropout; default: not guided)")
    s.add_argument("--out", help="also write the report as JSON here")
    s.set_defaults(fn=_cmd_score, output=("file", "--out"))

    s = sub.add_parser("export", help="export a .keras model as a TensorFlow SavedModel for TF Serving")
    s.add_argument("model", help=".keras file or run folder")
    s.add_argument("out", help="SavedModel folder to create (e.g. serving/NAME/1); it must not exist yet")
    _add_progress_flag(s, "one line per stage: saving, tracing each signature, writing")
    s.set_defaults(fn=_cmd_export, output=("folder", "OUT"))

    s = sub.add_parser("plot", help="draw the learning curves of one or more runs (their metrics.csv) into a PNG: "
                                    "the metric against epochs and against training minutes")
    s.add_argument("runs", nargs="+", metavar="RUN", help="run folder written by kgen train (holding metrics.csv); "
                                                          "several runs share the picture, one colour each")
    s.add_argument("--out", required=True, help="the .png to write (replaced if it exists, like kgen sample's)")
    s.add_argument("--metric", help="the metrics.csv column to draw, train solid and its val_ column dashed (default: "
                                    "the first of nats, bits_per_token, nats_per_frame, reconstruction_error, loss "
                                    "that every run has)")
    s.set_defaults(fn=_cmd_plot, needs_models=False, output=("file", "--out"))
    return p


def main(argv=None):
    """Run one `kgen` command; returns its exit status (0, 1 for an internal error, 2 for bad input)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, --version, or a bad argument (one line already printed)
        return e.code
    args.argv = argv
    try:
        _check_output(args)
        if getattr(args, "needs_models", True):  # `kgen plot` reads CSV files: it starts no Keras
            import kgen.models  # noqa: F401  (registers every family; the command imports lazily, see kgen/__init__.py)

        return args.fn(args)
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError) as e:
        if args.debug:
            raise
        print(f"kgen {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # stdout's reader has stopped (`kgen list | head`): it has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit would fail on the closed pipe again
        return 141
    except _training_errors() as e:  # the run went wrong, not the input: what happened and what is kept
        if args.debug:
            raise
        print(f"kgen {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"kgen {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, not bad input: one line, and the traceback with --debug
        if args.debug:
            raise
        print(f"kgen {args.command}: internal error: {type(e).__name__}: {e} (run again with --debug for the "
              "traceback)", file=sys.stderr)
        return 1


def _check_output(args):
    """Before any work: the command's output path is not empty, is of the kind it writes (a file or a folder), and
    is none of the command's inputs (kgen never writes over what it reads; kgen/io.py)."""
    from kgen.io import check_output_path

    what, flag = getattr(args, "output", (None, None))
    if what is None or args.out is None:
        return
    inputs = [getattr(args, name, None) for name in ("model", "file", "prompt")]
    inputs += list(getattr(args, "inputs", None) or []) + list(getattr(args, "runs", None) or [])
    check_output_path(args.out, flag, folder=what == "folder", inputs=[p for p in inputs if p])


def _training_errors():
    """What goes wrong in a run rather than in its input: the training diverged, or a write failed (a full disk)."""
    from kgen.training import TrainingDiverged

    return (TrainingDiverged, OSError)


def run():
    """The console script: `kgen ...`. Runs `main` with TensorFlow's native log lines kept off stderr, unless
    --debug or TF_CPP_MIN_LOG_LEVEL is 0 or 1 (`kgen.native_logs.quiet_command`)."""
    from kgen import native_logs

    with native_logs.quiet_command(debug="--debug" in sys.argv[1:]):
        return main()


if __name__ == "__main__":
    sys.exit(run())
