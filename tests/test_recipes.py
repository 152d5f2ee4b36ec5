"""Every recipe shipped with kgen (kgen/recipes/*.toml, linked as recipes/ at the top of a checkout) loads, names a
registered model and a known data set, and says how to run it."""

import zipfile
from pathlib import Path

import pytest

import kgen
from kgen import recipes

SHIPPED = recipes.available()


def test_recipes_are_shipped():
    assert "demo" in SHIPPED and "sparse_coding_mnist" in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_recipe_is_valid(name):
    path = recipes.find(name)
    recipe = recipes.load(path)
    assert recipe["model"] in kgen.zoo.list_models(), f"{name}: unknown model {recipe['model']!r}"
    assert recipe["data"]["name"] in kgen.data.NAMES, f"{name}: unknown data set {recipe['data']['name']!r}"
    assert recipe["train"]["time_budget_minutes"] is None or recipe["train"]["time_budget_minutes"] > 0
    header = path.read_text()
    assert f"kgen train {name}" in header, f"{name}: the recipe's comment should give the command that runs it"


def test_an_unknown_key_is_named(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "pixelcnn.tiny"\n[train]\nepoch = 3\n')
    with pytest.raises(ValueError, match="unknown key 'epoch'"):
        recipes.load(bad)


def test_find_takes_a_name_or_a_path(tmp_path):
    assert recipes.find("no_such_recipe") is None
    with pytest.raises(FileNotFoundError, match="missing.toml"):
        recipes.find(tmp_path / "missing.toml")
    top_level = Path(__file__).resolve().parent.parent / "recipes" / "demo.toml"  # the README's and cards' paths
    assert recipes.load(recipes.find(str(top_level))) == recipes.load(recipes.find("demo"))


def test_load_reads_a_recipe_inside_a_zip(tmp_path):
    # A zipped install hands `find` a zip member, not a file path; `load` takes either.
    archive = tmp_path / "recipes.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("demo.toml", recipes.find("demo").read_text())
    with zipfile.ZipFile(archive) as zf:
        assert recipes.load(zipfile.Path(zf, "demo.toml")) == recipes.load(recipes.find("demo"))
