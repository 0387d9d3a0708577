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


def _no_network_built(monkeypatch):
    def build(*args, **kwargs):
        raise AssertionError("a network was built before the arguments were checked")

    monkeypatch.setattr(keras, "Input", build)


@pytest.mark.parametrize("architecture", ["deeplabv2", "pan", "relationnet", "seggan", "ssgan"])
def test_every_architecture_refuses_a_bad_argument_before_building_its_networks(architecture, monkeypatch):
    # At full size the backbone alone takes seconds: a misspelt argument is named at once.
    from kseg.models import registry

    cls = registry.architectures()[architecture]
    _no_network_built(monkeypatch)
    with pytest.raises(TypeError, match=rf"{cls.__name__}\(\) got an unexpected keyword argument 'nmae'"):
        cls(num_classes=21, nmae="x")
    with pytest.raises(ValueError, match="num_classes >= 2"):
        cls(num_classes=1)
    if architecture in ("seggan", "ssgan"):
        with pytest.raises(ValueError, match=r"Expected lambda_adv >= 0. Received: lambda_adv=-1"):
            cls(num_classes=21, lambda_adv=-1)
        with pytest.raises(ValueError, match=r"Expected d_loss in \('bce', 'focal'\). Received: 'hinge'"):
            cls(num_classes=21, d_loss="hinge")
    else:
        with pytest.raises(ValueError, match=r"Expected activation in \(None, 'softmax'\). Received: activation='sigmoid'"):
            cls(num_classes=21, activation="sigmoid")
    if architecture == "pan":
        with pytest.raises(ValueError, match="Could not interpret activation function identifier: sigmod"):
            cls(num_classes=21, attention_activation="sigmod")


@pytest.mark.parametrize("backbone", ["resnet101", "vgg16", "wide_resnet38"])
def test_every_backbone_refuses_a_misspelt_argument_before_building(backbone, monkeypatch):
    import kseg

    _no_network_built(monkeypatch)
    with pytest.raises(TypeError, match=r"Backbone\(\) got an unexpected keyword argument 'nmae'"):
        kseg.backbones.get_backbone(backbone, nmae="x")
