"""What the segmentation models share: the class-count check, the float32 output head, and
`rebuilt_with` (a model of the same class from its config with changes, holding its weights)."""

import keras
import numpy as np
import pytest

from kseg.models.common import SegmentationModel, check_num_classes, inference_model, output_head, rebuilt_with


class TwoHeads(SegmentationModel):
    """Logits, plus a training-only auxiliary output unless `aux=False` (as RelationNet's similarity head)."""

    def __init__(self, num_classes, aux=True, activation=None, **kwargs):
        inputs = keras.Input((None, None, 3))
        features = keras.layers.Conv2D(4, 3, padding="same", name="features")(inputs)
        logits = output_head(keras.layers.Conv2D(num_classes, 1, name="classifier")(features), activation)
        outputs = [logits, keras.layers.Conv2D(1, 1, name="aux")(features)] if aux else logits
        super().__init__(inputs, outputs, **kwargs)

    def inference_model(self):
        return rebuilt_with(self, aux=False)


@pytest.mark.parametrize("value", [1, 0, 2.0, True, "21", None])
def test_num_classes_is_an_integer_of_at_least_two(value):
    with pytest.raises(ValueError, match=f"num_classes >= 2. Received: num_classes={value!r}"):
        check_num_classes(value)


def test_the_head_is_float32_under_mixed_precision_and_names_what_it_gives():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = TwoHeads(3, aux=False, activation="softmax")
    finally:
        keras.config.set_dtype_policy(previous)
    out = model(np.zeros((1, 4, 4, 3), "float32"))
    assert out.dtype == "float32" and model.layers[-1].name == "probabilities"
    np.testing.assert_allclose(out.numpy().sum(-1), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match=r"Expected activation in \(None, 'softmax'\). Received: activation='sigmoid'"):
        TwoHeads(3, activation="sigmoid")


def test_the_inference_model_drops_the_training_output_and_keeps_the_weights():
    keras.utils.set_random_seed(0)
    model = TwoHeads(3)
    segmenter = inference_model(model)
    assert type(segmenter) is TwoHeads and len(model.outputs) == 2 and len(segmenter.outputs) == 1
    x = np.random.default_rng(0).uniform(0, 255, (1, 5, 6, 3)).astype("float32")
    np.testing.assert_array_equal(segmenter(x).numpy(), model(x)[0].numpy())
    plain = keras.Sequential([keras.layers.Conv2D(2, 1)])
    assert inference_model(plain) is plain  # a model without the method segments as it is
