"""Every recipe shipped in recipes/ loads, names a registered model and a known data set, and says how to run it."""

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
