"""Child process of tests/end_to_end/test_portability.py: one training step of every architecture through
its task (tiny backbones), an inference in float32 and in bfloat16, on whatever CPU kernels
this TensorFlow loaded (`TF_ENABLE_ONEDNN_OPTS` is read when TensorFlow starts, hence a child).
`--recipes`: the same for every paper recipe in training/configs at full size (random weights,
64x64 images; the `large` test).

Prints one JSON line per case: {"case", "onednn", "loss", "changed", "variables", "finite",
"bfloat16_compute"}, after {"case": "auto_precision", "precision"}: what `train.precision: auto`
resolves to here.
"""

import json
import os
import sys

import numpy as np

from tests.tiny import CONFIGS, TINY_RELATIONNET, TINY_RESNET, TINY_VGG, options_override

TINY_D = {"crf_filter_size": 3, "filters": [8, 8, 8, 8, 1]}

# name -> overrides: every architecture, every atrous path (ASPP-L/S, LargeFOV's fc6, MSC,
# deformable convs, dilated backbones at output stride 8, ConvCRFs, the relation module's GRUs).
CASES = {
    "pan": ["model.architecture=pan", "model.backbone=resnet50",
            options_override(decoder_filters=8, backbone_options=TINY_RESNET)],
    "deeplabv2_resnet_aspp_l": ["model.architecture=deeplabv2", "model.backbone=resnet50", "model.output_stride=8",
                                options_override(aspp="L", backbone_options=TINY_RESNET)],
    "deeplabv2_vgg_largefov_msc": ["model.architecture=deeplabv2", "model.backbone=vgg16",
                                   options_override(aspp="LargeFOV", multi_scale=[0.5, 1.0],
                                                    backbone_options={**TINY_VGG, "fc_filters": 16})],
    "relationnet": ["model.architecture=relationnet", "model.backbone=wide_resnet38", "model.output_stride=8",
                    "relation.scl_weight=0.1", "train.loss=ohem", options_override(**TINY_RELATIONNET)],
    "seggan": ["model.architecture=seggan", "model.backbone=resnet50",
               options_override(crf_modules=2, aspp="L", generator_options={"backbone_options": TINY_RESNET},
                                discriminator_options=TINY_D)],
    "ssgan_resnet50": ["model.architecture=ssgan", "model.backbone=resnet50",
                       options_override(generator_options={"head_filters": 8, "backbone_options": TINY_RESNET})],
    "ssgan_vgg16": ["model.architecture=ssgan", "model.backbone=vgg16",
                    options_override(generator_options={"head_filters": 8, "backbone_options": {**TINY_VGG, "fc_filters": 16}})],
}
RECIPES = sorted(name[: -len(".yaml")] for name in os.listdir(CONFIGS) if name.endswith(".yaml"))
NUM_CLASSES = 3  # the tiny cases'; a recipe keeps its own
SIDE = 33
RECIPE_SIDE = 64  # full-size discriminators stride their input down five times


def _batch(num_classes, side):
    rng = np.random.RandomState(0)
    images = rng.uniform(0, 255, (2, side, side, 3)).astype("float32")
    labels = rng.randint(0, num_classes, (2, side, side)).astype("int32")
    return images, labels


def _config(name):
    """The config of a tiny case (the default preset with `CASES[name]`) or of a recipe, untrained weights."""
    from kseg.training.config import load_config

    overrides = ["data.format=voc", "data.root=/unused", "model.backbone_weights=null", "train.precision=float32",
                 "optimizer.warmup_steps=0"]
    if name in CASES:
        return load_config(overrides=overrides + [f"data.num_classes={NUM_CLASSES}", *CASES[name]])
    return load_config(os.path.join(CONFIGS, f"{name}.yaml"), overrides=overrides)


def run_case(name):
    import keras
    import tensorflow as tf

    from kseg.models.loading import with_precision
    from kseg.platform import onednn_enabled
    from kseg.training.first_trace import build_before_first_trace
    from kseg.training.tasks import get_task

    config = _config(name)
    task = get_task(config)
    keras.utils.set_random_seed(0)  # the same weights in every child: losses compare across kernels
    model = task.build_model()
    task.compile(model, task.build_optimizers(steps=10))
    images, labels = _batch(config.data.num_classes, SIDE if name in CASES else RECIPE_SIDE)
    before = [v.numpy() for v in model.trainable_variables]
    stream = task.training_targets(tf.data.Dataset.from_tensors((images, labels)), model)
    build_before_first_trace(model, stream)  # as the training loop does: one trace of the step
    history = model.fit(stream, verbose=0)
    after = [v.numpy() for v in model.trainable_variables]
    losses = {key: float(values[-1]) for key, values in history.history.items() if "loss" in key}
    network = task.inference_model(model)
    logits = network(images, training=False)
    bfloat16 = with_precision(network, "bfloat16")  # emulated where the CPU has no bf16 units
    low = bfloat16(images, training=False)
    return {
        "case": name,
        "onednn": onednn_enabled(),
        "loss": losses,
        "changed": sum(not np.array_equal(a, b) for a, b in zip(before, after)),
        "variables": len(before),
        "finite": bool(np.isfinite(logits).all() and np.isfinite(np.asarray(low, "float32")).all()),
        "bfloat16_compute": bfloat16.compute_dtype,
    }


def auto_precision():
    """What `train.precision: auto` resolves to on these kernels."""
    from kseg.training.precision import resolve_precision

    return {"case": "auto_precision", "precision": resolve_precision("auto")}


if __name__ == "__main__":
    print(json.dumps(auto_precision()), flush=True)
    for case in RECIPES if sys.argv[1:] == ["--recipes"] else sys.argv[1:] or CASES:
        print(json.dumps(run_case(case)), flush=True)
