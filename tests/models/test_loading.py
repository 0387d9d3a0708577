"""A `.keras` file carries its own weights: a config edited to name pretrained weights (a
download, or a local file) at any depth loads the file's weights and reads nothing else
(issue 33, item 7)."""

import json
import zipfile

import keras
import numpy as np
import pytest

import kseg
from tests.tiny import TINY_RESNET, TINY_VGG


def _naming_weights(config, source):
    """A model config whose every options mapping names `source` as pretrained weights."""
    config = dict(config, backbone_weights=source)
    for key in ("backbone_options", "generator_options"):
        if isinstance(config.get(key), dict):
            config[key] = {**config[key], "weights": source, "backbone_weights": source}
    return config


def _edited(path, out, source):
    with zipfile.ZipFile(path) as saved, zipfile.ZipFile(out, "w") as edited:
        for item in saved.infolist():
            data = saved.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                config["config"] = _naming_weights(config["config"], source)
                data = json.dumps(config).encode()
            edited.writestr(item, data)
    return out


@pytest.mark.parametrize("build", [
    lambda: kseg.models.PAN(num_classes=3, backbone="resnet50", decoder_filters=8, backbone_options=TINY_RESNET),
    lambda: kseg.models.DeepLabV2(num_classes=3, backbone="vgg16", aspp="LargeFOV", backbone_options={**TINY_VGG, "fc_filters": 16}),
], ids=["pan", "deeplabv2_vgg16"])
@pytest.mark.parametrize("source", ["imagenet", "elsewhere.weights.h5"])
def test_a_config_naming_pretrained_weights_loads_the_files_own(build, source, tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError(f"loading a .keras file tried to fetch {args} {kwargs}")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    model = build()
    saved = str(tmp_path / "model.keras")
    model.save(saved)
    elsewhere = tmp_path / "elsewhere.weights.h5"
    model.save_weights(str(elsewhere))  # a real weights file, so only the rule can stop it being read
    monkeypatch.chdir(tmp_path)
    loaded = keras.saving.load_model(_edited(saved, str(tmp_path / "edited.keras"), source))
    assert len(loaded.weights) == len(model.weights)
    for a, b in zip(loaded.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_a_file_that_is_not_a_keras_model_is_named(tmp_path):
    from kseg.models.loading import ModelFileError, load_inference_model

    junk = tmp_path / "model.keras"
    junk.write_text("not a model")
    for path in (str(junk), str(tmp_path)):  # the file, or the run folder holding it
        with pytest.raises(ModelFileError, match=rf"^{junk} is not a .keras file \(not a zip archive: truncated, or another kind of file\)$"):
            load_inference_model(path)
