"""The divergence guards (kseg/training/guards.py): fit stops at the first non-finite loss, a
checkpoint is written only while every loss and weight is finite, and the error says where to
resume. (A whole diverged run: tests/end_to_end/test_reliability.py.)"""

import keras
import numpy as np
import tensorflow as tf

from kseg.training.guards import DivergenceGuard, GoodCheckpoints, all_finite, diverged_error


def _model_and_data(nan_from):
    """A one-weight model fitted on 6 batches whose targets are NaN from batch `nan_from` on."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    x = np.ones((6, 2), np.float32)
    y = np.ones((6, 1), np.float32)
    y[nan_from:] = np.nan
    return model, x, y


def test_fit_stops_at_the_first_non_finite_loss_and_no_checkpoint_follows(tmp_path):
    model, x, y = _model_and_data(nan_from=4)
    guard = DivergenceGuard()
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(tmp_path), max_to_keep=5)
    saves = GoodCheckpoints(manager, guard, model.variables)
    history = model.fit(x, y, batch_size=1, epochs=3, steps_per_epoch=2, callbacks=[guard, saves], verbose=0, shuffle=False)
    assert guard.step == 5 and np.isnan(guard.losses["loss"])  # the 5th batch: the first NaN target
    assert len(history.history["loss"]) == 3 and model.stop_training
    assert [int(path.rsplit("-", 1)[1]) for path in manager.checkpoints] == [2, 4]  # none after the NaN
    error = str(diverged_error(guard, manager))
    assert error.startswith("training diverged by step 5 (loss=nan); no model was saved, evaluated or exported")
    assert error.endswith(f"the last good checkpoint is {manager.latest_checkpoint}: rerun with a lower optimizer.learning_rate to resume from it")


def test_weights_are_checked_and_integers_are_not():
    assert all_finite([tf.Variable([1.0, 2.0]), tf.Variable([3], dtype=tf.int64)]) and all_finite([])
    assert not all_finite([tf.Variable([1.0, np.inf])])
