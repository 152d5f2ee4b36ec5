"""Property-based fuzzing of kgen's readers of untrusted files (issue 27) with Hypothesis.

Three targets, each starting from valid files that kgen itself wrote and damaging them the ways a disk, an editor or
an attacker would: random truncations, bit flips and spliced bytes (with the file's own checksum recomputed, most of
the time, so that the damage reaches the parser), field deletions and type swaps in the decoded structure.

- `kgz`: `kgen.compression.decompress` of a .kgz file (model-coded, stored and LZMA2 items) with the tiny model it
  was made with. Allowed outcome: success with every file restored, or `CompressedFileError`; never another
  exception, never a file in the output folder after an error.
- `preset`: `KgenModel.from_preset` of a preset folder (config.json, metadata.json, model.weights.h5). Allowed:
  a model, or `kgen.pretrained.PresetError`.
- `recipe`: `kgen.recipes.load` of a TOML recipe and `kgen.recipes.validate` of its fields. Allowed: a recipe, or
  `kgen.recipes.RecipeError`.

Each target runs in a child process under resource limits (address space and CPU seconds: a runaway example kills
the child, which counts as a failure) with the torch backend on one thread. Hypothesis shrinks a failing example and
the child prints it. The report is one JSON line per target: examples run, outcomes by error type, seconds, the
child's peak memory, and the failure if any.

    python tools/fuzz.py                                  # every target, 200 examples each, a fixed seed
    python tools/fuzz.py --targets kgz --examples 5000 --seed random --json runs/fuzz.json

The CI test (tests/test_fuzz.py) runs a bounded number of examples with a fixed seed.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time

TARGETS = ("kgz", "preset", "recipe")


# ======================================================================================= the child: one target
def _mutate_bytes(data, blob, crc=None):
    """A damaged copy of `blob`: truncated, bits flipped or bytes spliced in; `crc(body) -> blob` re-seals it."""
    from hypothesis import strategies as st

    how = data.draw(st.sampled_from(["truncate", "flip", "splice", "flip", "splice"]), label="how")
    out = bytearray(blob[:-4] if crc is not None else blob)
    if how == "truncate":
        out = out[: data.draw(st.integers(0, max(len(out) - 1, 0)), label="length")]
    elif how == "flip":
        for _ in range(data.draw(st.integers(1, 8), label="flips")):
            if out:
                at = data.draw(st.integers(0, len(out) - 1), label="at")
                out[at] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    else:
        at = data.draw(st.integers(0, len(out)), label="at")
        cut = data.draw(st.integers(0, 16), label="cut")
        out[at : at + cut] = data.draw(st.binary(max_size=24), label="bytes")
    if crc is not None and data.draw(st.booleans(), label="reseal") | data.draw(st.booleans(), label="reseal2"):
        return crc(bytes(out))
    return bytes(out) if crc is None else bytes(out) + blob[-4:]


def _swap(data, value, depth=0):
    """`value` with one field deleted or given another type, somewhere inside."""
    from hypothesis import strategies as st

    others = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64), st.floats(allow_nan=True),
                       st.text(max_size=8), st.just([]), st.just({}), st.just([[[[[]]]]]), st.just(10**30))
    if isinstance(value, dict) and value and depth < 6:
        key = data.draw(st.sampled_from(sorted(value, key=str)), label="key")
        action = data.draw(st.sampled_from(["delete", "swap", "descend", "descend"]), label="action")
        out = dict(value)
        if action == "delete":
            del out[key]
        elif action == "swap":
            out[key] = data.draw(others, label="new value")
        else:
            out[key] = _swap(data, value[key], depth + 1)
        return out
    if isinstance(value, list) and value and depth < 6:
        at = data.draw(st.integers(0, len(value) - 1), label="index")
        out = list(value)
        out[at] = _swap(data, value[at], depth + 1)
        return out
    return data.draw(others, label="new value")


def _seal(body):
    import struct
    import zlib

    return body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def _kgz_target(folder, data, seeds, model):
    """Returns the outcome's name; raises AssertionError for a forbidden one."""
    from hypothesis import assume
    from hypothesis import strategies as st

    from kgen import compression

    blob = data.draw(st.sampled_from(seeds), label="seed")
    if data.draw(st.booleans(), label="structured"):
        header, payload = compression.unpack(blob)
        try:
            blob = compression.pack(_swap(data, header), payload)
        except Exception:  # the writer refuses what it cannot write: no file, nothing for the reader
            assume(False)
    else:
        blob = _mutate_bytes(data, blob, crc=_seal)
    path = folder / "x.kgz"
    path.write_bytes(blob)
    out = folder / "out"
    try:
        written = compression.decompress(path, model, out, progress=False)
    except compression.CompressedFileError:
        assert not out.exists() or not list(out.iterdir()), f"a refused file left {sorted(os.listdir(out))}"
        return "CompressedFileError"
    names = sorted(p.name for p in written)
    assert sorted(os.listdir(out)) == names
    for p in written:
        p.unlink()
    return "decoded"


def _preset_target(folder, data, seed_folder):
    import hashlib
    import shutil

    from hypothesis import strategies as st

    from kgen import pretrained
    from kgen.models import KgenModel

    preset = folder / "preset"
    shutil.rmtree(preset, ignore_errors=True)
    shutil.copytree(seed_folder, preset)
    which = data.draw(st.sampled_from(["config.json", "metadata.json", "model.weights.h5"]), label="file")
    path = preset / which
    if which.endswith(".json") and data.draw(st.booleans(), label="structured"):
        path.write_text(json.dumps(_swap(data, json.loads(path.read_text()))))
    else:
        path.write_bytes(_mutate_bytes(data, path.read_bytes()))
        if which == "model.weights.h5" and data.draw(st.booleans(), label="new sha256"):
            meta = json.loads((preset / "metadata.json").read_text())
            meta["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
            (preset / "metadata.json").write_text(json.dumps(meta))
    try:
        KgenModel.from_preset(str(preset))
    except pretrained.PresetError:
        return "PresetError"
    return "loaded"


def _recipe_target(folder, data, seed_text):
    import tomllib

    from hypothesis import strategies as st

    from kgen import recipes

    if data.draw(st.booleans(), label="structured"):
        try:
            recipes.validate(_swap(data, tomllib.loads(seed_text)), "fuzzed")
        except recipes.RecipeError:
            return "RecipeError"
        return "valid"
    path = folder / "r.toml"
    path.write_bytes(_mutate_bytes(data, seed_text.encode()))
    try:
        recipes.load(path)
    except recipes.RecipeError:
        return "RecipeError"
    return "valid"


def _seeds(target, folder):
    """The valid files a target starts from (and, for kgz, the model they were made with)."""
    import keras
    import numpy as np

    from kgen import compression, zoo

    keras.utils.set_random_seed(7)
    if target == "kgz":
        model = zoo.get("lstm_lm.tiny")
        (folder / "seeds").mkdir()
        files = {"a.txt": b"to be or not to be, " * 6, "b.bin": bytes(np.random.default_rng(0).integers(0, 256, 40,
                 dtype=np.uint8)), "c.txt": b"hello!", "empty": b""}
        paths = []
        for name, content in files.items():
            (folder / "seeds" / name).write_bytes(content)
            paths.append(folder / "seeds" / name)
        blobs = []
        for i, fallback in enumerate((True, False)):
            compression.compress(model, paths, folder / f"seed{i}.kgz", model_name="lstm_lm.tiny", fallback=fallback,
                                 batch_size=2, segment_length=16, progress=False)
            blobs.append((folder / f"seed{i}.kgz").read_bytes())
        return blobs, model
    if target == "preset":
        zoo.get("pixelcnn.tiny").save_to_preset(folder / "seed_preset", name="pixelcnn.tiny")
        return folder / "seed_preset", None
    return ('model = "pixelcnn.tiny"\ndescription = "a seed"\n[model_args]\nhidden_dim = 8\n[data]\n'
            'name = "binarized_mnist"\nsource = "embedded"\nmonitor_split = "test[:100]"\n[train]\nepochs = 3\n'
            'steps_per_epoch = 5\nlearning_rate = 0.001\nbatch_size = 16\ntime_budget_minutes = 2.5\n'), None


def child(target, examples, seed):
    import tempfile
    from pathlib import Path

    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    import kgen.models  # noqa: F401  (registers the classes)

    outcomes, slowest = {}, [0.0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seeds, model = _seeds(target, folder)

        @hypothesis_seed(seed)
        @settings(max_examples=examples, deadline=None, database=None, print_blob=True,
                  suppress_health_check=list(HealthCheck))
        @given(st.data())
        def run(data):
            start = time.perf_counter()
            if target == "kgz":
                outcome = _kgz_target(folder, data, seeds, model)
            elif target == "preset":
                outcome = _preset_target(folder, data, seeds)
            else:
                outcome = _recipe_target(folder, data, seeds)
            slowest[0] = max(slowest[0], time.perf_counter() - start)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

        failure = None
        try:
            run()
        except Exception as e:  # Hypothesis re-raises the shrunk failing example's exception
            import traceback

            traceback.print_exc()
            failure = f"{type(e).__name__}: {str(e)[:2000]}"
    report = {"target": target, "examples": sum(outcomes.values()), "outcomes": outcomes,
              "slowest_example_s": round(slowest[0], 3), "failure": failure}
    print("FUZZ-REPORT " + json.dumps(report), flush=True)
    return 0 if failure is None else 1


# ======================================================================================= the parent: limits, report
def run_target(target, examples, seed, memory_mb, cpu_seconds):
    """Run one target in a child process under the limits; its report, with the wall time and peak memory."""
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))

    env = dict(os.environ, KERAS_BACKEND="torch", TF_CPP_MIN_LOG_LEVEL="3", OMP_NUM_THREADS="1",
               KGEN_PROGRESS="0", HF_HUB_OFFLINE="1")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", target, "--examples", str(examples), "--seed",
                           str(seed)], env=env, preexec_fn=limit, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    lines = [line for line in proc.stdout.splitlines() if line.startswith("FUZZ-REPORT ")]
    if lines:
        report = json.loads(lines[-1][len("FUZZ-REPORT "):])
    else:  # killed by a limit, or crashed before reporting
        report = {"target": target, "examples": None, "outcomes": {},
                  "failure": f"the child ended with status {proc.returncode} without a report: "
                             f"{(proc.stderr or proc.stdout)[-2000:]}"}
    report.update(seed=seed, seconds=round(seconds, 1), peak_rss_mb_so_far=round(peak_mb), status=proc.returncode,
                  memory_limit_mb=memory_mb, cpu_limit_s=cpu_seconds)
    if report.get("failure"):
        report["child_output_tail"] = (proc.stdout + proc.stderr)[-4000:]
    return report


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    p.add_argument("--examples", type=int, default=200, help="Hypothesis examples per target")
    p.add_argument("--seed", default="0", help="an int, or 'random'")
    p.add_argument("--memory-mb", type=int, default=6144, help="the child's address-space limit")
    p.add_argument("--cpu-seconds", type=int, default=1800, help="the child's CPU-time limit")
    p.add_argument("--json", help="also write the reports here")
    p.add_argument("--child", choices=TARGETS, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    seed = random.randrange(2**32) if args.seed == "random" else int(args.seed)
    if args.child:
        return child(args.child, args.examples, seed)
    reports = []
    for target in args.targets:
        report = run_target(target, args.examples, seed, args.memory_mb, args.cpu_seconds)
        reports.append(report)
        print(json.dumps({k: v for k, v in report.items() if k != "child_output_tail"}), flush=True)
        if report.get("failure"):
            print(report["child_output_tail"], file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(reports, f, indent=1)
    return 0 if all(not r.get("failure") for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
