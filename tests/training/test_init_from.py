"""Fine-tuning from a run (issue 32, item 2): `train.init_from` copies every array whose path
and shape match, from a run folder, a .keras file or a checkpoint, across class counts and
architectures sharing a backbone, says what it loaded and what is new, and refuses a source
that matches nothing."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kseg
from kseg.training.config import config_text, load_config
from kseg.training.init_from import InitFromError, copy_matching, initialise_from
from tests.tiny import TINY_RESNET, options_override


def _pan(num_classes):
    keras.utils.set_random_seed(num_classes)
    return kseg.models.PAN(num_classes, backbone="resnet50", backbone_options=TINY_RESNET, decoder_filters=16)


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))


def test_another_class_list_loads_everything_but_the_classifier(tmp_path, capsys):
    source, target = _pan(21), _pan(6)
    source.save(str(tmp_path / "voc.keras"))
    report = initialise_from(target, str(tmp_path / "voc.keras"), num_classes=6)
    assert report["loaded"] == report["total"] - 2 and report["new"] == ["classifier"]
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line == f"loaded {report['total'] - 2} of {report['total']} arrays from {tmp_path / 'voc.keras'}; new: classifier (21 -> 6 classes)"
    copied = {v.path: v for v in source.variables}
    for variable in target.variables:
        if not variable.path.startswith("classifier/"):
            np.testing.assert_array_equal(variable.numpy(), copied[variable.path].numpy())


def test_another_architecture_with_the_same_backbone_shares_its_arrays():
    keras.utils.set_random_seed(1)
    deeplab = kseg.models.DeepLabV2(6, backbone="resnet50", backbone_options=dict(TINY_RESNET, deep_stem=True))
    pan = kseg.models.PAN(6, backbone="resnet50", backbone_options=TINY_RESNET, decoder_filters=16)  # PAN's stem is deep
    report = copy_matching(deeplab, pan)
    shared = {v.path for v in deeplab.variables} & {v.path for v in pan.variables}
    assert report["loaded"] == len(shared) > 50 and "aspp" not in str(sorted(report["new"]))
    block = next(v for v in pan.variables if v.path == "conv3_block1_1_conv/kernel")
    np.testing.assert_array_equal(block.numpy(), next(v for v in deeplab.variables if v.path == block.path).numpy())


def test_a_run_in_progress_is_read_from_its_checkpoint(tmp_path):
    from kseg.training.checkpoint import complete_checkpoint
    from kseg.training.tasks import get_task

    config = load_config(overrides=["data.num_classes=5", options_override(decoder_filters=16, backbone_options=TINY_RESNET),
                                    "model.backbone=resnet50"])
    run = tmp_path / "run"
    os.makedirs(run / "checkpoints")
    (run / "config.yaml").write_text(config_text(config))
    trained = get_task(config).build_model()
    manager = tf.train.CheckpointManager(complete_checkpoint(model=trained), str(run / "checkpoints"), max_to_keep=1)
    prefix = manager.save(checkpoint_number=7)
    for spec in (str(run), prefix):
        fresh = get_task(config).build_model()
        assert not _same(fresh, trained)
        report = initialise_from(fresh, spec, num_classes=5)
        assert report["loaded"] == report["total"] and _same(fresh, trained)


def test_a_run_a_checkpoint_and_a_model_at_a_url_are_read_there(tmp_path):
    from kseg.remote_io import replace_text
    from kseg.training.checkpoint import complete_checkpoint
    from kseg.training.runner import _initialise_from
    from kseg.training.tasks import get_task

    config = load_config(overrides=["data.num_classes=5", options_override(decoder_filters=16, backbone_options=TINY_RESNET),
                                    "model.backbone=resnet50"])
    run = f"ram://{tmp_path.name}/runs/in-progress"
    replace_text(f"{run}/config.yaml", config_text(config))
    trained = get_task(config).build_model()
    prefix = tf.train.CheckpointManager(complete_checkpoint(model=trained), f"{run}/checkpoints", max_to_keep=1).save(7)
    for spec in (run, prefix):
        fresh = get_task(config).build_model()
        assert initialise_from(fresh, spec, num_classes=5)["loaded"] > 0 and _same(fresh, trained)
    local = str(tmp_path / "trained.keras")
    trained.save(local)
    tf.io.gfile.copy(local, f"{run}/model.keras")
    for load in (lambda model: initialise_from(model, f"{run}/", 5), lambda model: _initialise_from(model, f"{run}/model.keras")):
        fresh = get_task(config).build_model()
        load(fresh)
        assert _same(fresh, trained)
    replace_text(f"{run}/junk.keras", "half a zip")
    with pytest.raises(InitFromError, match=rf"^train.init_weights: {run}/junk.keras is not a .keras file \(not a zip archive"):
        _initialise_from(_pan(3), f"{run}/junk.keras")
    with pytest.raises(FileNotFoundError, match=rf"^train.init_weights: no such model: {run}/none.keras$"):
        _initialise_from(_pan(3), f"{run}/none.keras")
    with pytest.raises(InitFromError, match=r"^train.init_from: s3://b/run: File system scheme 's3' not implemented"):
        initialise_from(_pan(3), "s3://b/run", 3)


def test_sources_that_cannot_serve_are_named(tmp_path):
    target = _pan(3)
    with pytest.raises(InitFromError, match=r"train.init_from: .*nothing is not a run folder, a .keras file or a checkpoint"):
        initialise_from(target, str(tmp_path / "nothing"), 3)
    os.makedirs(tmp_path / "empty")
    with pytest.raises(InitFromError, match=r"holds neither a model.keras nor checkpoints/"):
        initialise_from(target, str(tmp_path / "empty"), 3)
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="unrelated")])
    other.save(str(tmp_path / "other.keras"))
    with pytest.raises(InitFromError, match=r"no array of .*other.keras matches this model's by path and shape"):
        initialise_from(target, str(tmp_path / "other.keras"), 3)


def test_a_file_that_is_not_a_keras_model_is_named_for_either_key(tmp_path):
    from kseg.training.runner import _initialise_from

    junk = tmp_path / "run" / "model.keras"
    os.makedirs(junk.parent)
    junk.write_bytes(b"half a zip")  # a copy cut short; Keras would call it "File not found"
    for source in (str(junk), str(junk.parent)):
        with pytest.raises(InitFromError, match=rf"^train.init_from: {junk} is not a .keras file \(not a zip archive"):
            initialise_from(_pan(3), source, 3)
    with pytest.raises(InitFromError, match=rf"^train.init_weights: {junk} is not a .keras file"):
        _initialise_from(_pan(3), str(junk))
