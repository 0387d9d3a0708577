"""RelationNet's task (kseg/models/relationnet/task.py): the Spatial Correlation Loss on the
similarity subnet with `relation.scl_weight` (eq. 2), the subnet dropped for inference, the
output stride fixed at 8 (§II-A1) and shifted testing's steps dividing it (§II-C)."""

import numpy as np
import pytest
import tensorflow as tf

from kseg.training.config import ConfigError, load_config
from kseg.training.first_trace import build_before_first_trace
from kseg.training.tasks import get_task
from tests.tiny import TINY_RELATIONNET, options_override

BASE = ["model.architecture=relationnet", "model.backbone=wide_resnet38", "model.output_stride=8", "data.format=voc",
        "data.root=/unused", "data.num_classes=3", options_override(**TINY_RELATIONNET)]


def test_scl_trains_the_similarity_subnet_and_inference_drops_it():
    task = get_task(load_config(overrides=BASE + ["relation.scl_weight=0.5", "relation.shifted_steps=2"]))
    model = task.build_model()
    assert sorted(model.output_names) == ["logits", "similarity"]
    task.compile(model, task.build_optimizers(steps=4))
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    labels = np.random.default_rng(1).integers(0, 3, (2, 32, 32)).astype("int32")
    stream = task.training_targets(tf.data.Dataset.from_tensors((images, labels)), model)
    build_before_first_trace(model, stream)  # as the training loop does
    history = model.fit(stream, verbose=0).history
    assert history["loss"][0] == pytest.approx(history["logits_loss"][0] + 0.5 * history["similarity_loss"][0], rel=1e-4)
    network = task.inference_model(model)
    assert network(images).shape == (2, 32, 32, 3) and len(network.outputs) == 1
    assert task.test_time_options() == {"shifted_steps": 2}
    plain = get_task(load_config(overrides=BASE + ["relation.scl_weight=0"])).build_model()
    assert len(plain.outputs) == 1  # the coarse stage: no subnet


@pytest.mark.parametrize("override, message", [
    ("model.output_stride=16", r"model.output_stride must be 8 for model.architecture=relationnet \(Wide ResNet-38's, §II-A1\). Received: 16"),
    ("relation.shifted_steps=3", r"relation.shifted_steps must divide the output stride 8: 1, 2, 4 or 8. Received: 3"),
])
def test_what_the_paper_fixes_is_refused_by_name(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=BASE + [override])  # a later --set wins
