"""Same seeds, same samples as recorded before the model-contract refactor, for every autoregressive architecture.

The samples in tests/golden/ were drawn by tools/record_golden_samples.py (its docstring says how) with
deterministic weights; any change to what a seed draws (a reordered random stream, a sampler that computes other
probabilities) fails here.
"""

import numpy as np
import pytest
import keras

import record_golden_samples as golden  # tools/


@pytest.mark.parametrize("case", sorted(golden.CASES))
def test_same_seed_same_samples_as_recorded(case):
    recorded = np.load(golden.golden_path(keras.backend.backend()))
    drawn = golden.draw(case)
    for key, value in drawn.items():
        np.testing.assert_array_equal(
            value, recorded[f"{case}/{key}"],
            err_msg=f"{case}: the {key} samples differ from those recorded before the refactor",
        )
