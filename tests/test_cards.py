"""Every model card in zoo/ opens with the metadata header model hubs read (Hugging Face model-card YAML: library,
license, tags, datasets, metrics and a model-index of measured results), parsed here by huggingface_hub itself;
each result names a registered zoo model and repeats a figure written in the card's text, and a model whose trained
weights ship with kgen reports the metric recorded in their metadata."""

import re
from pathlib import Path

import pytest

from kgen import pretrained, zoo

ZOO = Path(__file__).resolve().parents[1] / "zoo"
CARDS = sorted(ZOO.glob("*.md"))


def _body(path):
    text = path.read_text(encoding="utf-8")
    return text.split("\n---\n", 1)[1] if text.startswith("---\n") else text


@pytest.mark.parametrize("card", CARDS, ids=lambda p: p.name)
def test_card_has_a_model_hub_header(card):
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard import metadata_load
    from huggingface_hub.repocard_data import model_index_to_eval_results

    assert card.read_text(encoding="utf-8").startswith("---\n"), f"{card.name}: no metadata header"
    meta = metadata_load(card)
    assert meta["library_name"] == "keras"
    assert meta["license"] == "apache-2.0"
    assert "kgen" in meta["tags"]
    assert meta["datasets"] and all(isinstance(d, str) for d in meta["datasets"])
    assert meta["metrics"] and all(isinstance(m, str) for m in meta["metrics"])
    ModelCard.load(card)  # huggingface_hub's own parse of the whole header
    body = _body(card)
    for entry in meta.get("model-index", []):
        assert entry["name"] in zoo.list_models(), f"{card.name}: {entry['name']!r} is not a zoo model"
        name, results = model_index_to_eval_results([entry])
        assert name == entry["name"] and results
        for r in results:
            assert r.dataset_split, f"{card.name}: {name}: give the split of {r.metric_type}"
            # The figure as written (YAML reads 91.20 as 91.2: trailing zeros may follow).
            assert re.search(r"(?<![\d.])" + re.escape(f"{r.metric_value}") + r"0*(?!\d)", body), (
                f"{card.name}: {name}'s {r.metric_type} {r.metric_value} is not a figure of the card's text")


def _decimals(value):
    text = repr(value)
    return len(text.split(".")[1]) if "." in text else 0


@pytest.mark.parametrize("name", zoo.list_models(pretrained=True))
def test_shipped_weights_report_their_metric_in_their_card(name):
    from huggingface_hub.repocard import metadata_load

    meta = pretrained.read_metadata(zoo.pretrained_folder(name))
    card = Path(__file__).resolve().parents[1] / meta["metric"]["card"]
    entries = {e["name"]: e for e in metadata_load(card).get("model-index", [])}
    assert name in entries, f"{card.name}: no model-index entry for {name}"
    values = [m["value"] for r in entries[name]["results"] for m in r["metrics"]]
    recorded = meta["metric"]["value"]
    assert any(abs(v - recorded) <= 0.5 * 10 ** -_decimals(v) for v in values), (name, values, recorded)
