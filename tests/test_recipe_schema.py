"""Recipes get the same checks as flags (issue 27, class 5): one schema (`kgen.recipes.Recipe`, pydantic) validates
a recipe's values, from a TOML file, a run's recipe.json or the command line's flags, before anything is written.

Each case is a recipe file given to `kgen train`: exit status 2, one stderr line naming the file, the key and what
was expected, and no run folder. Before the schema, `steps_per_epoch = 0` hung at 100% CPU, `epochs = 0` exited 0
without a model, `learning_rate = -0.5` trained, `epochs = 1.9` became 1 and `num_samples = -1` failed after the
whole run.
"""

import json
import os

import pytest

from kgen import cli, recipes

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)

HEAD = 'model = "pixelcnn.tiny"\n[data]\nsource = "embedded"\n'

# (the recipe's text after HEAD, what the one error line must contain after "recipe '<file>': ").
CASES = [
    ("[train]\nsteps_per_epoch = 0\n", "`[train] steps_per_epoch`: input should be greater than or equal to 1, got 0"),
    ("[train]\nepochs = 0\n", "`[train] epochs`: input should be greater than or equal to 1, got 0"),
    ("[train]\nlearning_rate = -0.5\n", "`[train] learning_rate`: input should be greater than 0, got -0.5"),
    ("[train]\nlearning_rate = nan\n", "`[train] learning_rate`: input should be a finite number"),
    ("[train]\nepochs = 1.9\n", "`[train] epochs`: input should be a valid integer, got 1.9"),
    ("[train]\nnum_samples = -1\n", "`[train] num_samples`: input should be greater than or equal to 0, got -1"),
    ('[train]\nbatch_size = "64"\n', "`[train] batch_size`: input should be a valid integer, got '64'"),
    ("[train]\nbatch_size = true\n", "`[train] batch_size`: input should be a valid integer, got True"),
    ("[train]\nseed = -3\n", "`[train] seed`: input should be greater than or equal to 0, got -3"),
    ("[train]\ntime_budget_minutes = 0\n", "`[train] time_budget_minutes`: input should be greater than 0, got 0"),
    ('[train]\ndtype = "float8"\n', "`[train] dtype`: input should be 'float32', 'mixed_bfloat16' or 'mixed_float16'"),
    ('[train]\ndistribute = "all"\n', "`[train] distribute`: input should be 'none' or 'data_parallel', got 'all'"),
    ("[train]\nnum_devices = 0\n", "`[train] num_devices`: input should be greater than or equal to 1, got 0"),
    ("[train]\nsample_seconds = 1e9\n", "`[train] sample_seconds`: input should be less than or equal to 600"),
    ('[train]\nschedule = "cosine"\n', '[train] `schedule = "cosine"` needs `decay_steps`'),
    ("[train]\ndecay_steps = 100\n", '[train] `decay_steps` and `final_lr_ratio` are settings of `schedule = "cosine"`'),
    ('[train]\nschedule = "cosine"\ndecay_steps = 9\nfinal_lr_ratio = 2\n',
     "`[train] final_lr_ratio`: input should be less than or equal to 1, got 2"),
    ('[train]\nschedule = "linear"\n', "`[train] schedule`: input should be 'constant' or 'cosine', got 'linear'"),
    ("[train]\nbatchsize = 3\n", "unknown key 'batchsize'; expected one of ['batch_size'"),
    ('[data]\nsource = "ftp"\n', None),  # a second [data] table: TOML itself refuses it
    ("[train]\neval_batch_size = 9\n", "unknown key 'eval_batch_size'"),
    ("epochs = 3\n", None),  # TOML puts it in [data] (the last table): an unknown key there
]


def _recipe(tmp_path, body):
    path = tmp_path / "recipe.toml"
    path.write_text(HEAD + body)
    return path


@pytest.mark.parametrize("body,expected", CASES, ids=[f"{i:02d}" for i in range(len(CASES))])
def test_a_bad_recipe_value_is_one_line_before_anything_is_written(tmp_path, capsys, body, expected):
    path = _recipe(tmp_path, body)
    run = tmp_path / "run"
    assert cli.main(["train", str(path), "--out", str(run), "--verbose", "0"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"kgen train: error: recipe {str(path)!r}"), lines
    if expected is not None:
        assert expected in lines[0], lines[0]
    assert not run.exists() and sorted(os.listdir(tmp_path)) == ["recipe.toml"]


def test_the_same_schema_checks_json_flags_and_defaults(tmp_path):
    with pytest.raises(ValueError, match=r"run/recipe.json: `\[train\] epochs`: input should be a valid integer"):
        recipes.validate(json.loads('{"model": "pixelcnn.tiny", "train": {"epochs": 2.5}}'), "run/recipe.json")
    with pytest.raises(ValueError, match="`model` is required"):
        recipes.validate({}, "r")
    with pytest.raises(ValueError, match="`model`: string should have at least 1 character"):
        recipes.validate({"model": ""}, "r")
    full = recipes.validate({"model": "pixelcnn.tiny"}, "r")
    assert full == recipes.from_model("pixelcnn.tiny")
    assert {k: v for k, v in full.items() if k != "model"} == {k: v for k, v in recipes.DEFAULTS.items() if k != "model"}
    # An int where a float goes is the same number; every shipped recipe passes.
    assert recipes.validate({"model": "m", "train": {"learning_rate": 1}}, "r")["train"]["learning_rate"] == 1.0
    for name in recipes.available():
        recipes.load(recipes.find(name))


def test_flags_are_checked_with_the_recipe(tmp_path, capsys):
    """A flag sets a value the recipe's schema then checks with the rest (here: the recipe's bad value stays)."""
    path = _recipe(tmp_path, "[train]\nnum_samples = -1\n")
    assert cli.main(["train", str(path), "--out", str(tmp_path / "run"), "--epochs", "2", "--verbose", "0"]) == 2
    assert "`[train] num_samples`" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_constant_learning_rate_drops_the_recipes_schedule():
    """`--constant-learning-rate` (equal-budget comparisons) trains a scheduled recipe at its peak rate throughout:
    no warm-up, no decay, and the result is still a valid recipe."""
    import argparse

    from kgen import training

    scheduled = training.resolve_recipe("pixelrnn_row_binarized_mnist")
    assert training.scheduled(scheduled["train"])
    args = argparse.Namespace(constant_learning_rate=True)
    t = cli._apply_overrides(scheduled, args)["train"]
    assert not training.scheduled(t) and t["decay_steps"] is None and t["final_lr_ratio"] == 0.0
    assert training.learning_rate_schedule(t) == scheduled["train"]["learning_rate"]
    unchanged = cli._apply_overrides(training.resolve_recipe("pixelrnn_row_binarized_mnist"), argparse.Namespace())
    assert unchanged["train"]["schedule"] == "cosine"
