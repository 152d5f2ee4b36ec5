"""FoldTime: (batch, time, ...) to (batch * time, ...) and back, with sizes unknown until called."""

import numpy as np
import keras
from keras import ops

from kgen.layers.fold_time import FoldTime
from kgen.testing import TestCase


class TestFoldTime(TestCase):
    def test_fold_and_unfold_round_trip(self):
        video = np.arange(2 * 3 * 4 * 5 * 1, dtype="float32").reshape(2, 3, 4, 5, 1)
        folded = ops.convert_to_numpy(FoldTime()(video))
        np.testing.assert_array_equal(folded, video.reshape(6, 4, 5, 1))
        np.testing.assert_array_equal(ops.convert_to_numpy(FoldTime()(folded * 2, video)), video * 2)
        assert FoldTime().compute_output_shape((2, 3, 4, 5, 1)) == (6, 4, 5, 1)
        assert FoldTime().compute_output_shape((None, 3, 4)) == (None, 4)
        assert FoldTime().compute_output_shape((6, 4, 7), (2, 3, 4, 5)) == (2, 3, 4, 7)
        self.run_serialization_test(FoldTime(name="fold"))

    def test_in_a_functional_model_with_any_batch_and_time(self):
        video = keras.Input((None, 4, 4, 1))
        features = keras.layers.Conv2D(3, 3, padding="same")(FoldTime()(video))
        model = keras.Model(video, FoldTime()(features, video))
        for shape in [(1, 2, 4, 4, 1), (3, 5, 4, 4, 1)]:
            assert tuple(model(np.zeros(shape, "float32")).shape) == shape[:-1] + (3,)

    def test_rejects_inputs_without_time(self):
        import pytest

        with pytest.raises(ValueError, match="expected \\(batch, time, ...\\)"):
            FoldTime()(np.zeros((2, 3), "float32"))
