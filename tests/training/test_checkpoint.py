"""Every variable of every kseg model and layer survives a tf.train.Checkpoint round trip.

For each registered kseg class with weights: build it, give every variable a random
value, write a checkpoint, read it into a fresh build and compare every array. A class
registered under "kseg" without an entry here fails `test_every_registered_class_is_covered`,
so a new layer cannot slip past.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kseg
from kseg.training.checkpoint import complete_checkpoint, unreached_variables
from tests.tiny import TINY_RESNET, TINY_VGG

TINY_BLOCKS = ((1, (8, 8)), (1, (8, 8)), (1, (16, 16)), (1, (16, 24)), (1, (8, 16, 24)), (1, (8, 16, 32)))


def _called(layer, *shapes):
    """`layer` built by a call on zeros of `shapes` (batch 1)."""
    inputs = [tf.zeros((1,) + s) for s in shapes]
    layer(inputs if len(inputs) > 1 else inputs[0])
    return layer


def _tiny_generator(num_classes=3):
    inputs = keras.Input((None, None, 3))
    return keras.Model(inputs, keras.layers.Conv2D(num_classes, 3, padding="same")(inputs))


BUILDERS = {
    "ASPP": lambda: _called(kseg.layers.ASPP(3, rates="S"), (9, 9, 8)),
    "ASPP(vgg form)": lambda: _called(kseg.layers.ASPP(3, rates=(2, 4), hidden_filters=8), (9, 9, 8)),
    "ASPPV3": lambda: _called(kseg.layers.ASPPV3(8), (9, 9, 8)),
    "ConvBNActivation": lambda: _called(kseg.layers.ConvBNActivation(4, 3, 2, batch_norm=True), (9, 9, 3)),
    "FusedBatchNormalization": lambda: _called(kseg.layers.FusedBatchNormalization(), (9, 9, 3)),
    "FeaturePyramidAttention": lambda: _called(kseg.layers.FeaturePyramidAttention(8), (16, 16, 8)),
    "GlobalAttentionUpsample": lambda: _called(kseg.layers.GlobalAttentionUpsample(8), (8, 8, 8), (16, 16, 4)),
    "DeformableConv2D": lambda: _called(kseg.layers.DeformableConv2D(4, 3), (9, 9, 3)),
    "RelationModule": lambda: _called(kseg.layers.RelationModule(4), (5, 5, 6)),
    "SimilarityHead": lambda: _called(kseg.layers.SimilarityHead(8), (5, 5, 6)),
    "ConvCRF": lambda: _called(kseg.layers.ConvCRF(learnable=True, learnable_compatibility=True, filter_size=3, blur=1), (8, 8, 3), (8, 8, 3)),
    "DenseCRF": lambda: _called(kseg.layers.DenseCRF(num_iterations=1, learnable=True), (8, 8, 3), (8, 8, 3)),
    "ResNetBackbone": lambda: kseg.backbones.ResNetBackbone(50, output_stride=8, deep_stem=True, **TINY_RESNET),
    "VGG16Backbone": lambda: kseg.backbones.VGG16Backbone(fc_filters=16, **TINY_VGG),
    "WideResNet38Backbone": lambda: kseg.backbones.WideResNet38Backbone(blocks=TINY_BLOCKS, stem_filters=8),
    "PAN": lambda: kseg.models.PAN(num_classes=5, backbone="resnet50", decoder_filters=32, backbone_options=TINY_RESNET),
    "DeepLabV2": lambda: kseg.models.DeepLabV2(num_classes=5, backbone="vgg16", aspp="LargeFOV", backbone_options=TINY_VGG),
    "DeepLabV2(resnet, MSC)": lambda: kseg.models.DeepLabV2(
        num_classes=5, backbone="resnet50", aspp="S", multi_scale=(0.5, 1.0), backbone_options=TINY_RESNET
    ),
    "RelationNet": lambda: kseg.models.RelationNet(
        3, training_heads=True, hidden_size=4, reduce_filters=8, similarity_hidden=8, backbone_blocks=TINY_BLOCKS
    ),
    "SSGANGenerator": lambda: kseg.models.SSGANGenerator(3, backbone="vgg16", head_filters=8, backbone_options={**TINY_VGG, "fc_filters": 16}),
    "SSGAN": lambda: kseg.models.SSGAN(
        num_classes=5, generator="resnet50", generator_options={"head_filters": 8, "backbone_options": TINY_RESNET}
    ),
    "SSGANDiscriminator": lambda: kseg.models.SSGANDiscriminator(3, filters=(8, 8)),
    "SegGANDiscriminator": lambda: kseg.models.SegGANDiscriminator(3, filters=(8, 8, 8, 8, 1), crf_filter_size=3, crf_blur=2),
    "SegGAN": lambda: kseg.models.SegGAN(
        3, generator=_tiny_generator(), discriminator=kseg.models.SegGANDiscriminator(3, filters=(8, 8, 8, 8, 1), crf_filter_size=3, crf_blur=2)
    ),
}
# Registered classes that hold no variables (or only as a metric / optimizer / loss,
# checked in test_optimizers_and_metrics_round_trip or not checkpointed as model state).
WITHOUT_MODEL_WEIGHTS = {
    "ShiftCorrelation", "ImageNormalization", "ResizeByScale", "ResizeLike", "LogProbabilities", "ScaleImage",
    "ProductFusion", "ConfusionMatrixMetric", "CoupledWeightDecaySGD", "PolyDecay", "MaskedSparseCategoricalCrossentropy",
    "OHEMCrossEntropy", "SpatialCorrelationLoss", "SubsampledLabelsLoss", "DiceLoss", "LovaszSoftmaxLoss",
    "WeightedSumLoss", "AdversarialSegmenter",  # the base of SegGAN / SSGAN
    "FocalLoss", "TverskyLoss", "LinearWarmup", "MultipliedAdamW",
}


def _randomise(variables, seed):
    rng = np.random.default_rng(seed)
    for variable in variables:
        value = rng.uniform(0.5, 2.0, tuple(variable.shape)) * rng.choice([-1, 1], tuple(variable.shape))
        if "int" in str(variable.dtype) or "variance" in variable.path:
            value = np.abs(value) * 100
        variable.assign(np.asarray(value).astype(keras.backend.standardize_dtype(variable.dtype)))


def test_every_registered_class_is_covered():
    registered = {  # a name kept for files saved before a rename (kseg>AtrousConv2D) is not a class of its own
        name.split(">", 1)[1] for name, obj in keras.saving.get_custom_objects().items()
        if name.startswith("kseg>") and obj.__name__ == name.split(">", 1)[1]
    }
    covered = {name.split("(")[0] for name in BUILDERS} | WITHOUT_MODEL_WEIGHTS
    assert registered - covered == set(), "add a builder to BUILDERS for these classes"


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_checkpoint_round_trip_restores_every_array(name, tmp_path):
    keras.utils.set_random_seed(0)
    written = BUILDERS[name]()
    assert written.variables, f"{name} has no variables: move it to WITHOUT_MODEL_WEIGHTS"
    # A plain tf.train.Checkpoint(model=...) reaches every variable but Keras' own dropout
    # seed states (no TF trackable holds them; complete_checkpoint adds those).
    missing = [v.path for v in unreached_variables(model=written).values() if not v.path.endswith("seed_generator_state")]
    assert missing == []
    _randomise(written.variables, seed=1)
    path = complete_checkpoint(model=written).write(os.path.join(tmp_path, "ckpt"))
    keras.utils.set_random_seed(2)
    fresh = BUILDERS[name]()
    complete_checkpoint(model=fresh).read(path).assert_existing_objects_matched()
    assert len(fresh.variables) == len(written.variables)
    unequal = [a.path for a, b in zip(written.variables, fresh.variables) if not np.array_equal(a.numpy(), b.numpy())]
    assert unequal == [], f"{len(unequal)} of {len(written.variables)} arrays not restored"


def test_optimizers_round_trip_with_the_model(tmp_path):
    from kseg.training import CoupledWeightDecaySGD, LinearWarmup, MultipliedAdamW, PolyDecay

    def build():
        keras.utils.set_random_seed(0)
        model = kseg.models.DeepLabV2(num_classes=3, backbone="vgg16", aspp="LargeFOV", backbone_options=TINY_VGG)
        sgd = CoupledWeightDecaySGD(PolyDecay(0.01, 10), l2=5e-4)
        adam = keras.optimizers.Adam(1e-4)
        adamw = MultipliedAdamW(LinearWarmup(PolyDecay(0.01, 10), 3), weight_decay=0.01, lr_multipliers={"kernel": 10})
        for optimizer in (sgd, adam, adamw):
            optimizer.build(model.trainable_variables)
        return model, sgd, adam, adamw

    def checkpoint(objects):
        return complete_checkpoint(model=objects[0], optimizer=objects[1], d_optimizer=objects[2], adamw=objects[3])

    objects = build()
    everything = [v for obj in objects for v in obj.variables]
    _randomise(everything, seed=3)
    path = checkpoint(objects).write(str(tmp_path / "c"))
    again = build()
    checkpoint(again).read(path).assert_existing_objects_matched()
    restored = [v for obj in again for v in obj.variables]
    assert [a.path for a, b in zip(everything, restored) if not np.array_equal(a.numpy(), b.numpy())] == []
