"""kgen/catalog.json, what `kgen list` reads without Keras, is the live registry's (issue 26, point 2): regenerate it
with `python tools/make_catalog.py` when this fails."""

import json
from pathlib import Path

import pytest

from kgen import catalog, zoo

FIX = "the catalog is stale: run `python tools/make_catalog.py` and commit kgen/catalog.json"


def test_the_shipped_catalog_is_the_registry():
    built = catalog.build()
    shipped = catalog.load()
    assert sorted(shipped["models"]) == sorted(built["models"]), FIX
    assert shipped == built, FIX
    text = (Path(catalog.__file__).with_name(catalog.FILE)).read_text(encoding="utf-8")
    assert text == catalog.dumps(built), FIX  # byte for byte: the tool's output


@pytest.mark.parametrize("pattern", ["*", "pixel*", "*.tiny", "*.mnist", "wavenet*", "nothing*"])
@pytest.mark.parametrize("pretrained", [False, True])
def test_it_answers_as_the_registry(pattern, pretrained):
    names = zoo.list_models(pattern, pretrained=pretrained)
    assert catalog.list_models(pattern, pretrained=pretrained) == names
    assert [catalog.describe(n) for n in names] == [zoo.describe(n)[0] for n in names]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`pattern` must be a string"):
        catalog.list_models(3)
    with pytest.raises(ValueError, match="`pretrained` must be True or False"):
        catalog.list_models("*", pretrained="yes")
    with pytest.raises(ValueError, match="Unknown model name 'pixelcnn.huge'"):
        catalog.describe("pixelcnn.huge")


def test_a_damaged_catalog_says_how_to_fix_it(monkeypatch):
    for text in ("{", json.dumps({"format": 99, "models": {}}), "[]"):
        monkeypatch.setattr(catalog, "_read_text", lambda text=text: text)
        with pytest.raises(ValueError, match="tools/make_catalog.py"):
            catalog.load()
