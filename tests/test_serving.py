"""Serving: the SavedModels of every zoo architecture, loaded the way a TF Serving deployment loads them.

`test_saved_model_cli` exports the tiny preset of every architecture whose model has `export_signatures()` and
checks each SavedModel with TensorFlow's `saved_model_cli`: the README's own `saved_model_cli show --all` and
`saved_model_cli run` command lines as subprocesses, and, for every model and signature, `show` through
saved_model_cli's functions and `run` as saved_model_cli runs (a TF1 session with `loader.load`, as TF Serving
loads a SavedModel), in one child process that never imports kgen (a server has only the SavedModel). The request
bodies of the README's Serving section run through the same path, so the README is tested too.

`test_keras_file_needs_kgen_imported` shows what loading a `.keras` file without `import kgen` gives, and the fix
(under TensorFlow the serving child does it).
"""

import contextlib
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from kgen import zoo
from kgen.backends import backend_env, run_under_backend
from kgen.testing.test_case import conditioning

README = Path(__file__).resolve().parents[1] / "README.md"

TF_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="exporting and saved_model_cli are TensorFlow work under every backend (from JAX or torch, "
           "export_for_serving reloads the .keras file under TensorFlow in a child), so this runs under the "
           "TensorFlow backend only; the .keras-to-TensorFlow route of each backend is the families' run_export_test "
           "and test_export_for_serving_from_this_backend",
)

#: Loading the .keras file sys.argv[1] in a process that has not imported kgen: keras' error, then `import kgen` and
#: the model. The server child ends with it under the TensorFlow backend; under the others it runs alone.
_LOAD_CHECK = """\
import sys, keras
try:
    keras.models.load_model(sys.argv[1])
except TypeError as e:
    print("WITHOUT KGEN:", e)
else:
    sys.exit("a kgen .keras file loaded without importing kgen")
assert "kgen" not in sys.modules, "keras imported kgen"
import kgen
print("WITH KGEN:", type(keras.models.load_model(sys.argv[1])).__name__)
"""


#: The child that plays the server: it reads one job per line on stdin (one SavedModel: where to write its `show`
#: text, and the signatures to run with the inputs of an .npz, writing each output as OUTDIR/KEY.npy) while the
#: parent exports the next models. It shows with saved_model_cli's own functions and runs as `saved_model_cli run`
#: does (the SavedModel loaded into a TF1 session with `loader.load`, fed and fetched by the tensor names of the
#: signature), but loads each SavedModel once for all its runs, as a server does. It must not import kgen; it ends
#: with `_LOAD_CHECK` on sys.argv[1].
_SERVER_CHILD = """\
import contextlib, io, json, os, sys
import numpy as np
import tensorflow as tf
from tensorflow.python.tools import saved_model_cli as smcli, saved_model_utils

for line in sys.stdin:
    job = json.loads(line)
    meta_graph = saved_model_utils.get_meta_graph_def(job["dir"], "serve")
    text = io.StringIO()
    with contextlib.redirect_stdout(text):  # `saved_model_cli show --dir D --tag_set serve --signature_def K`, each K
        for key in sorted(meta_graph.signature_def):
            print(f"\\nsignature_def['{key}']:")
            smcli._show_inputs_outputs_mgd(meta_graph, key, indent=1)
    with open(job["show"], "w") as f:
        f.write(text.getvalue())
    with tf.compat.v1.Session(graph=tf.Graph()) as sess:
        tf.compat.v1.saved_model.loader.load(sess, ["serve"], job["dir"])
        for signature, inputs, outdir in job["runs"]:  # `saved_model_cli run ... --inputs ... --outdir OUTDIR`
            ins = smcli._get_inputs_tensor_info_from_meta_graph_def(meta_graph, signature)
            outs = smcli._get_outputs_tensor_info_from_meta_graph_def(meta_graph, signature)
            keys = sorted(outs)
            feed = {ins[k].name: v for k, v in np.load(inputs).items()}
            values = sess.run([outs[k].name for k in keys], feed_dict=feed)
            os.makedirs(outdir)
            for k, v in zip(keys, values):
                np.save(os.path.join(outdir, k + ".npy"), v)
if "kgen" in sys.modules:
    sys.exit("the serving child imported kgen")
""" + _LOAD_CHECK


def saved_model_cli_command():
    """The `saved_model_cli` console script that comes with TensorFlow (beside this interpreter, or on PATH)."""
    beside = Path(sys.executable).parent / "saved_model_cli"
    found = str(beside) if beside.is_file() else shutil.which("saved_model_cli")
    assert found, "saved_model_cli (installed with tensorflow) is neither beside this Python nor on PATH"
    return found


def parse_show(text):
    """{signature: {"inputs": {name: (dtype, shape)}, "outputs": {...}}} from `saved_model_cli show` output; the
    shape is a tuple with -1 for an unknown dimension. Signatures named `__...` (the init op) are left out."""
    signatures, current, side, tensor = {}, None, None, None
    for line in text.splitlines():
        line = line.strip()
        if m := re.fullmatch(r"signature_def\['(.+)'\]:", line):
            current = None if m[1].startswith("__") else signatures.setdefault(m[1], {"inputs": {}, "outputs": {}})
        elif current is not None and (m := re.fullmatch(r"(inputs|outputs)\['(.+)'\] tensor_info:", line)):
            side, tensor = m[1], m[2]
            current[side][tensor] = [None, None]
        elif current is not None and tensor and (m := re.fullmatch(r"dtype: (\S+)", line)):
            current[side][tensor][0] = m[1]
        elif current is not None and tensor and (m := re.fullmatch(r"shape: \((.*)\)", line)):
            current[side][tensor][1] = tuple(int(d) for d in m[1].split(",") if d.strip())
    return {name: {side: {k: tuple(v) for k, v in sig[side].items()} for side in sig} for name, sig in
            signatures.items()}


def signature_inputs(model):
    """{signature: {input: (DT_ dtype name, shape with -1)}} from the model's own `export_signatures()`."""
    from tensorflow.core.framework import types_pb2

    return {name: {spec.name: (types_pb2.DataType.Name(spec.dtype.as_datatype_enum),
                               tuple(-1 if d is None else d for d in spec.shape)) for spec in specs}
            for name, _, specs in model.export_signatures()}


def readme_serving():
    """The README's Serving section: its REST bodies [(model name, signature, inputs)] (each `curl -d '{...}'
    .../v1/models/NAME:predict`) and its `saved_model_cli` command lines."""
    text = README.read_text()
    m = re.search(r"^### Serving\n(.*?)(?=^## )", text, re.S | re.M)
    assert m, "README.md has no '### Serving' section"
    section = m[1]
    bodies = []
    for body, name in re.findall(r"curl -d '(.*?)'[\s\\]*\S*/v1/models/([\w.-]+):predict", section, re.S):
        try:
            request = json.loads(body)
        except json.JSONDecodeError as e:
            raise AssertionError(f"README: the request body for {name} is not JSON ({e}):\n{body}") from None
        assert set(request) <= {"signature_name", "inputs"} and "inputs" in request, (
            f"README: a request body for {name} must have 'inputs' (and 'signature_name'), got {sorted(request)}")
        bodies.append((name, request.get("signature_name", "serving_default"), request["inputs"]))
    commands = [shlex.split(line) for line in re.findall(r"^(saved_model_cli .*?)(?:\s+#.*)?$", section, re.M)]
    return bodies, commands


def check_outputs(example, served, what):
    """`served` ({output: numpy}) is what `example` (a ServingExample) expects."""
    if example.is_sampler:
        try:
            example.check(served)
        except ValueError as e:
            raise AssertionError(f"{what} gave invalid samples: {e}") from None
        return
    assert sorted(served) == sorted(example.expected), f"{what} has outputs {sorted(served)}"
    for key, expected in example.expected.items():
        np.testing.assert_allclose(served[key], expected, rtol=example.rtol, atol=1e-4,
                                   err_msg=f"{what}: {key!r} differs from the model's own")


def load_outputs(outdir):
    return {p.stem: np.load(p) for p in sorted(Path(outdir).glob("*.npy"))}


def shape_matches(shape, expected):
    return len(shape) == len(expected) and all(e == -1 or s == e for s, e in zip(shape, expected))


@TF_ONLY
def test_saved_model_cli(tmp_path):
    from kgen.export import export_for_serving

    bodies, commands = readme_serving()
    readme_models = sorted({name for name, _, _ in bodies})
    cli_dirs = {c[c.index("--dir") + 1] for c in commands}
    assert [c[1] for c in commands] == ["show", "run"] and len(cli_dirs) == 1, (
        f"README's Serving section must show one `saved_model_cli show` and one `saved_model_cli run` command on "
        f"the same SavedModel, got {commands}")
    cli_dir = cli_dirs.pop()
    cli_model = re.fullmatch(r"serving/([\w.-]+)/\d+", cli_dir)[1]
    # The README's saved_model_cli model first, so the command lines run while the other models export.
    archs = sorted(zoo.architectures(), key=lambda a: a != cli_model)
    assert set(readme_models) | {cli_model} <= set(archs), f"README names models that are not architectures: " \
                                                            f"{sorted(set(readme_models) - set(archs))}"
    keras_file = tmp_path / "pixelcnn.keras"
    zoo.get("pixelcnn.tiny").save(keras_file)
    child_err = open(tmp_path / "server.err", "w+")
    server = subprocess.Popen([sys.executable, "-c", _SERVER_CHILD, keras_file], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE,
                              stderr=child_err, env=backend_env("tensorflow"), text=True)
    cli_runs, checks = [], []
    try:
        for arch in archs:
            model = zoo.get(f"{arch}.tiny")
            try:
                signatures = signature_inputs(model)
            except NotImplementedError:
                continue
            x = model.example_inputs()["x"]
            examples = model.serving_examples(x, **conditioning(model, x))
            saved = export_for_serving(model, tmp_path / arch / "1")
            if arch == cli_model:  # the README's command lines, as a user types them
                for command in commands:
                    argv = [saved_model_cli_command()] + [str(saved) if a == cli_dir else a for a in command[1:]]
                    if command[1] == "run":
                        argv += ["--outdir", str(tmp_path / "cli_run")]
                    cli_runs.append((command, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                               env=backend_env("tensorflow"), text=True)))
            runs = []
            for signature, example in examples.items():
                np.savez(tmp_path / f"{arch}_{signature}.npz", **example.inputs)
                runs.append([signature, str(tmp_path / f"{arch}_{signature}.npz"), str(tmp_path / "out" / arch /
                                                                                    signature)])
                checks.append((arch, signature, example))
            for k, (name, signature, inputs) in enumerate(bodies):
                if name != arch:
                    continue
                assert signature in signatures or signature == "serving_default", (
                    f"README: {arch} has no signature {signature!r}; it has {sorted(signatures)}")
                specs = signatures["serve" if signature == "serving_default" else signature]
                assert sorted(inputs) == sorted(specs), (
                    f"README: the {arch} `{signature}` body has inputs {sorted(inputs)}; the signature takes "
                    f"{sorted(specs)}")
                arrays = {}
                for key, value in inputs.items():  # as TF Serving reads JSON: by the signature's dtype
                    arrays[key] = np.asarray(value, {"DT_FLOAT": "float32", "DT_INT32": "int32"}[specs[key][0]])
                    assert shape_matches(arrays[key].shape, specs[key][1]), (
                        f"README: the {arch} `{signature}` body's {key!r} has shape {arrays[key].shape}; the "
                        f"signature takes {specs[key][1]} (-1: any)")
                np.savez(tmp_path / f"readme_{k}.npz", **arrays)
                runs.append([signature, str(tmp_path / f"readme_{k}.npz"), str(tmp_path / "out" / f"readme_{k}")])
            show = tmp_path / f"{arch}.show.txt"
            server.stdin.write(json.dumps({"dir": str(saved), "show": str(show), "runs": runs}) + "\n")
            server.stdin.flush()
            checks.append((arch, None, (show, signatures)))
        loaded, _ = server.communicate()
        code = server.returncode
    finally:
        for _, proc in cli_runs:
            with contextlib.suppress(Exception):
                proc.wait(timeout=300)
        if server.poll() is None:
            server.kill()
    child_err.seek(0)
    assert code == 0, f"saved_model_cli's show/run in the serving child failed:\n{child_err.read()[-3000:]}"
    check_load_output(loaded)

    exported = {}
    for arch, signature, item in checks:
        if signature is None:  # the shown signatures are exactly the model's, with their inputs' names and dtypes
            show, signatures = item
            shown = parse_show(show.read_text())
            exported[arch] = shown
            assert sorted(shown) == sorted(set(signatures) | {"serving_default"}), (
                f"{arch}: saved_model_cli shows signatures {sorted(shown)}, the model exports {sorted(signatures)}")
            first = next(iter(signatures))  # keras' serving_default is the first endpoint
            for name, specs in {**signatures, "serving_default": signatures[first]}.items():
                assert shown[name]["inputs"] == specs, (
                    f"{arch}: saved_model_cli shows `{name}` inputs {shown[name]['inputs']}, the model's signature "
                    f"has {specs}")
        else:
            check_outputs(item, load_outputs(tmp_path / "out" / arch / signature),
                          f"saved_model_cli run of {arch} `{signature}`")
    for k, (name, signature, _) in enumerate(bodies):
        served = load_outputs(tmp_path / "out" / f"readme_{k}")
        outputs = exported[name][signature]["outputs"]
        assert sorted(served) == sorted(outputs), f"README {name} `{signature}`: outputs {sorted(served)}"
        for key, value in served.items():
            assert shape_matches(value.shape, outputs[key][1]) and np.all(np.isfinite(value)), (
                f"README {name} `{signature}`: {key!r} {value.shape} {value}")
    # Every kind of signature the zoo exports (its name and input names) has a REST body in the README.
    kinds = {(sig, tuple(sorted(spec["inputs"]))): arch for arch, shown in exported.items()
             for sig, spec in shown.items() if sig != "serving_default"}
    documented = {(sig if sig != "serving_default" else "serve", tuple(sorted(inputs))) for _, sig, inputs in bodies}
    missing = sorted(set(kinds) - documented)
    assert not missing, f"README's Serving section has no request body for {[(k, kinds[k]) for k in missing]}"

    # The real command lines: `show --all` prints what the child showed; `run` gives valid samples.
    for command, proc in cli_runs:
        out, err = proc.communicate()
        assert proc.returncode == 0, f"`{shlex.join(command)}` failed:\n{err[-3000:]}"
        if command[1] == "show":
            assert "--all" in command and parse_show(out) == exported[cli_model], (
                f"`{shlex.join(command)}` shows other signatures than saved_model_cli's functions:\n{out}")
        else:
            signature = command[command.index("--signature_def") + 1]
            example = dict((s, e) for a, s, e in checks if a == cli_model and s)[signature]
            check_outputs(example, load_outputs(tmp_path / "cli_run"), f"`{shlex.join(command)}`")
            assert "Result for output key" in out


def check_load_output(out):
    assert "Could not locate class 'PixelCNN'" in out and "'registered_name': 'kgen>PixelCNN'" in out, out
    assert "WITH KGEN: PixelCNN" in out, out
    assert "`import kgen` first" in README.read_text(), "README must say that loading a .keras file needs import kgen"


@pytest.mark.skipif(keras.backend.backend() == "tensorflow",
                    reason="under TensorFlow, test_saved_model_cli's serving child (a TensorFlow process that has not "
                           "imported kgen) ends with this check, which saves starting TensorFlow once more")
def test_keras_file_needs_kgen_imported(tmp_path):
    """Keras imports the module named in a .keras file only for its own packages (keras, keras_hub, ...), so a kgen
    model loads after `import kgen` (which registers every kgen class), and not before: the README says so."""
    path = tmp_path / "pixelcnn.keras"
    zoo.get("pixelcnn.tiny").save(path)
    check_load_output(run_under_backend(keras.backend.backend(), ["-c", _LOAD_CHECK, path],
                                        what="loading a .keras file").stdout)


@pytest.mark.skipif(keras.backend.backend() == "tensorflow",
                    reason="under TensorFlow, export_for_serving exports in-process: every model's run_export_test")
def test_export_for_serving_from_this_backend(tmp_path):
    """`export_for_serving` under JAX or torch (a .keras file exported in a TensorFlow child), as users call it: the
    families' `run_export_test` checks each model by one child that exports and serves (`one_child`), and this
    checks the public route once per backend, for a model with a seeded sampler and a conditioned one."""
    from kgen.testing import TestCase

    TestCase().run_export_test(zoo.get("gated_pixelcnn.tiny", num_classes=3), tmp_dir=tmp_path / "gated",
                               one_child=False)
