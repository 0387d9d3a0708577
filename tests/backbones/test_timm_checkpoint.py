"""Pretrained ResNets from timm checkpoints: kseg builds the checkpoint's network and its
features equal timm's. The fixtures are timm networks with random weights and BatchNorm
statistics (tests/fixtures/timm/make_timm_fixtures.py regenerates them with torch + timm)."""

import os
import shutil

import numpy as np
import pytest

import kseg
from kseg.backbones import from_timm
from tests import REPO

FIXTURES = os.path.join(REPO, "tests", "fixtures", "timm")
EXPECTED_STRUCTURE = {
    "resnet": dict(deep_stem=False, stem_width=64, avg_down=False),
    "resnet_s": dict(deep_stem=True, stem_width=24, avg_down=False),
    "resnet_d": dict(deep_stem=True, stem_width=8, avg_down=True),
}
TINY = {"blocks": [2, 1, 2, 1], "stage_filters": [8, 16, 24, 32]}


def _fixture(family):
    return os.path.join(FIXTURES, f"{family}.safetensors"), np.load(os.path.join(FIXTURES, f"{family}.npz"))


def _relative_error(actual, expected):
    return float(np.max(np.abs(np.asarray(actual) - expected)) / np.max(np.abs(expected)))


@pytest.mark.parametrize("family", sorted(EXPECTED_STRUCTURE))
@pytest.mark.parametrize("output_stride", [32, 8])
def test_features_equal_timm_at_every_level(family, output_stride):
    path, expected = _fixture(family)
    backbone = from_timm(path, output_stride=output_stride)
    structure = backbone.structure()
    assert {key: structure[key] for key in EXPECTED_STRUCTURE[family]} == EXPECTED_STRUCTURE[family]
    assert structure["stride_in_3x3"] and structure["preprocessing"] == "torch"
    features = backbone(expected["image"][None], training=False)
    for level in ("P2", "P3", "P4", "P5"):
        reference = expected[f"os{output_stride}_{level}"]
        assert features[level].shape[1:] == reference.shape
        assert _relative_error(features[level][0], reference) < 1e-4, level


def test_a_model_takes_the_checkpoint_as_backbone_weights_and_rebuilds_without_it():
    path, expected = _fixture("resnet_d")
    model = kseg.models.DeepLabV2(num_classes=3, backbone="resnet50", backbone_weights=path, backbone_options=TINY)
    reference = from_timm(path, output_stride=8)
    image = expected["image"][None]
    np.testing.assert_allclose(model.backbone(image)["P5"], reference(image)["P5"], atol=1e-5)
    options = model.get_config()["backbone_options"]
    assert options["avg_down"] is True and options["stem_width"] == 8 and options["preprocessing"] == "torch"
    rebuilt = kseg.models.DeepLabV2.from_config(model.get_config())  # no checkpoint: the config says it all
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt(image), model(image), atol=1e-5)


def test_a_pan_with_a_7x7_checkpoint_asks_for_the_deep_stem_explicitly():
    path, _ = _fixture("resnet")
    with pytest.raises(ValueError, match=r"deep_stem=True does not fit the timm checkpoint .*resnet.safetensors, which has deep_stem=False"):
        kseg.models.PAN(num_classes=3, backbone="resnet50", backbone_weights=path, backbone_options=TINY)
    pan = kseg.models.PAN(num_classes=3, backbone="resnet50", deep_stem=False, backbone_weights=path, backbone_options=TINY)
    assert not pan.backbone.deep_stem


def test_a_checkpoint_of_another_depth_is_named():
    path, _ = _fixture("resnet")
    with pytest.raises(ValueError, match=r"blocks=\(3, 4, 6, 3\) does not fit the timm checkpoint .*which has blocks=\(2, 1, 2, 1\)"):
        kseg.backbones.get_backbone("resnet50", weights=path)


def test_checkpoints_timm_variants_kseg_cannot_build_are_refused_by_name(tmp_path):
    from safetensors.numpy import load_file, save_file

    path, _ = _fixture("resnet")
    tensors = load_file(path)
    with_attention = dict(tensors, **{"layer1.0.se.fc1.weight": np.zeros((2, 32, 1, 1), np.float32)})
    save_file(with_attention, str(tmp_path / "se.safetensors"))
    with pytest.raises(ValueError, match=r"se.safetensors: 1 tensors fit no layer of a plain ResNet \(e.g. 'layer1.0.se.fc1.weight'\)"):
        from_timm(str(tmp_path / "se.safetensors"))
    basic = {k: v for k, v in tensors.items() if ".conv3." not in k and ".bn3." not in k}
    save_file(basic, str(tmp_path / "basic.safetensors"))
    with pytest.raises(ValueError, match=r"basic.safetensors: not a timm bottleneck ResNet"):
        from_timm(str(tmp_path / "basic.safetensors"))
    (tmp_path / "broken.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"broken.safetensors.* is not a readable .safetensors file"):
        from_timm(str(tmp_path / "broken.safetensors"))
    with pytest.raises(ValueError, match=r"No timm checkpoint at weights=.*missing.safetensors"):
        from_timm(str(tmp_path / "missing.safetensors"))
    shutil.copy(path, tmp_path / "model.h5")
    with pytest.raises(ValueError, match="Expected a timm .safetensors checkpoint"):
        from_timm(str(tmp_path / "model.h5"))


@pytest.mark.large
@pytest.mark.parametrize("name", ["resnet50", "resnet101s", "resnet50d"])
def test_full_size_features_equal_timm(name, tmp_path):
    """With torch and timm installed: the full-size networks, random weights and statistics."""
    torch = pytest.importorskip("torch")
    timm = pytest.importorskip("timm")
    from safetensors.torch import save_file

    model = timm.create_model(name, pretrained=False).eval()
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean = torch.randn(module.num_features, generator=generator) * 0.1
            module.running_var = torch.rand(module.num_features, generator=generator) + 0.5
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / f"{name}.safetensors"))
    image = np.random.RandomState(0).uniform(0, 255, (1, 96, 80, 3)).astype(np.float32)
    x = (torch.from_numpy(image).permute(0, 3, 1, 2) / 255 - torch.tensor([0.485, 0.456, 0.406])[:, None, None]) / torch.tensor(
        [0.229, 0.224, 0.225]
    )[:, None, None]
    with torch.no_grad():
        expected = [f.permute(0, 2, 3, 1).numpy() for f in model.forward_intermediates(x, indices=[1, 2, 3, 4], intermediates_only=True)]
    features = from_timm(str(tmp_path / f"{name}.safetensors"), output_stride=32)(image)
    for level, reference in zip(("P2", "P3", "P4", "P5"), expected):
        assert _relative_error(features[level], reference) < 1e-4, level


def test_other_backbones_refuse_a_timm_checkpoint_by_name():
    path, _ = _fixture("resnet")
    with pytest.raises(ValueError, match=r"timm checkpoints \(.safetensors\) load into the ResNet backbones only; vgg16"):
        kseg.backbones.get_backbone("vgg16", weights=path)
    with pytest.raises(ValueError, match=r"Expected weights=None or a .weights.h5 file saved from WideResNet38Backbone"):
        kseg.backbones.get_backbone("wide_resnet38", weights=path)
