"""The wheel carries what an installed kgen needs (every recipe, the embedded data set, the presets tables: all the
package's data files) and its metadata pins no torch; installed from the wheel, kgen finds its recipes without a
source checkout."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import pytest

from kgen.version import __version__

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)

ROOT = Path(__file__).resolve().parent.parent
# What setuptools reads to build the wheel; copied so the build writes nothing into the working tree (build/,
# *.egg-info) and test processes that run side by side (pytest-xdist workers) never share a build folder.
BUILD_INPUTS = ("pyproject.toml", "README.md", "setup.py", "setup.cfg", "MANIFEST.in", "LICENSE")


def _build_wheel(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "kgen", src / "kgen", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in BUILD_INPUTS:
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, src / name)
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-q", "-w", str(dist)], check=True, cwd=tmp_path)
    (wheel,) = dist.glob("kgen-*.whl")
    return wheel


def test_wheel_ships_recipes_and_data_and_they_load_when_installed(tmp_path):
    shipped = sorted(p.name for p in (ROOT / "kgen" / "recipes").glob("*.toml"))
    assert "demo.toml" in shipped and list((ROOT / "kgen" / "data" / "embedded").glob("*.npz"))
    # Every file of the package that is not Python source is data the code reads: recipes, the embedded data set,
    # the families' presets tables.
    data = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "kgen").rglob("*")
                  if p.is_file() and p.suffix not in (".py", ".pyc") and not p.name.startswith(".")
                  and "__pycache__" not in p.parts)

    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "kgen/recipes/__init__.py" in names
    assert f"\nVersion: {__version__}\n" in metadata, metadata[:300]  # pyproject.toml reads it from kgen/version.py
    missing = [name for name in data if name not in names]
    assert not missing, f"not in the wheel (add them to [tool.setuptools.package-data]): {missing}"
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert not [r for r in requires if "torch" in r], f"torch must not be pinned in the metadata: {requires}"
    assert any(r.split()[1].startswith("keras-hub") for r in requires), requires

    # The shipped trained weights: one preset folder per name, found by the installed copy's registry.
    pretrained = sorted(p.parent.name for p in (ROOT / "kgen" / "models").glob("*/pretrained/*/metadata.json"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "-q",
                    "--target", str(target), str(wheel)], check=True, cwd=tmp_path)
    child = f"""
import pathlib
from kgen import recipes
here = pathlib.Path(recipes.__file__).resolve()
assert here.is_relative_to(pathlib.Path({str(target.resolve())!r})), here
assert recipes.available() == {[n[: -len(".toml")] for n in shipped]!r}, recipes.available()
recipe = recipes.load(recipes.find("demo"))
assert recipe["model"] == "pixelcnn.mnist" and recipe["data"]["source"] == "embedded", recipe
import kgen
assert kgen.zoo.list_models(pretrained=True) == {pretrained!r}, kgen.zoo.list_models(pretrained=True)
for name in kgen.zoo.list_models(pretrained=True):
    folder = pathlib.Path(kgen.zoo.pretrained_folder(name)).resolve()
    assert folder.is_relative_to(pathlib.Path({str(target.resolve())!r})), folder
    assert kgen.pretrained.read_metadata(folder)["name"] == name
print("ok")
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # The installed copy is imported under this run's backend, with the cwd outside the checkout.
    env.update(PYTHONPATH=str(target), KERAS_BACKEND=keras.backend.backend(), TF_CPP_MIN_LOG_LEVEL="3")
    run = subprocess.run([sys.executable, "-c", child], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-3000:]
