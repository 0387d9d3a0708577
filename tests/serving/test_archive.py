import numpy as np
import pytest
import tensorflow as tf

from kseg.serving.archive import SignatureArchive


def _functions():
    scale = tf.Variable([2.0, 3.0], name="scale")
    offset = tf.Variable(1.0, trainable=False, name="offset")

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def affine(x):
        return {"y": x * scale + offset}

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def total(x):
        return {"sum": tf.reduce_sum(x * scale, -1)}

    return scale, offset, {"affine": affine.get_concrete_function(), "total": total.get_concrete_function()}


def test_signatures_reload_and_answer_like_the_functions(tmp_path):
    scale, offset, signatures = _functions()
    SignatureArchive(signatures).write_out(str(tmp_path / "saved"))
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    x = tf.constant([[1.0, 2.0], [0.5, -1.0]])
    assert sorted(loaded.signatures) == ["affine", "total"]
    np.testing.assert_allclose(loaded.signatures["affine"](x=x)["y"], [[3.0, 7.0], [2.0, -2.0]])
    np.testing.assert_allclose(loaded.signatures["total"](x=x)["sum"], [8.0, -2.0])
    np.testing.assert_allclose(loaded.affine(x)["y"], [[3.0, 7.0], [2.0, -2.0]])  # also an attribute, as Keras's archive had
    import keras  # Keras's way in: a layer calling a named endpoint

    np.testing.assert_allclose(keras.layers.TFSMLayer(str(tmp_path / "saved"), call_endpoint="affine")(x)["y"], [[3.0, 7.0], [2.0, -2.0]])
    # each captured variable once, trainable ones first, with its trainability
    assert [v.name for v in loaded.variables] == ["scale:0", "offset:0"]
    assert [v.name for v in loaded.trainable_variables] == ["scale:0"]


def test_the_root_holds_only_variables_and_concrete_functions():
    # Polymorphic tf.functions on the root would be traced again by tf.saved_model.save
    # (its save context is part of TF's trace key): the export's cost twice.
    scale, offset, signatures = _functions()
    root = SignatureArchive(signatures).root()
    children = root._trackable_children(save_type="savedmodel")
    assert not any(isinstance(child, tf.types.experimental.PolymorphicFunction) for child in children.values())
    assert {name for name, child in children.items() if isinstance(child, tf.types.experimental.ConcreteFunction)} == {"affine", "total"}
    assert [id(v) for v in root.variables] == [id(scale), id(offset)]


def test_needs_a_signature():
    with pytest.raises(ValueError, match="at least one signature"):
        SignatureArchive({})
