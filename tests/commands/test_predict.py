"""`python -m training.predict`: label PNGs at each image's own size and overlays, bad files
named and skipped, the same labels as the model; from a .keras file or a SavedModel."""

import os

import numpy as np
import pytest
from PIL import Image

import kseg
from tests.serving.conftest import decoded
from tests.tiny import TINY_RESNET
from training.predict import main


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    model = kseg.models.PAN(num_classes=3, backbone="resnet50", decoder_filters=8, backbone_options=TINY_RESNET)
    path = str(tmp_path_factory.mktemp("model") / "pan.keras")
    model.save(path)
    return model, path


def _images(folder):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {"a.jpg": rng.integers(0, 255, (37, 45, 3), dtype=np.uint8), "b.png": rng.integers(0, 255, (40, 32, 3), dtype=np.uint8)}
    for name, array in arrays.items():
        Image.fromarray(array).save(os.path.join(folder, name), quality=95)
    with open(os.path.join(folder, "broken.png"), "wb") as f:
        f.write(b"not an image")
    with open(os.path.join(folder, "notes.txt"), "w") as f:
        f.write("not an image suffix: not read")
    return arrays


def test_a_folder_gives_palette_labels_at_each_size_and_overlays(tiny_model, tmp_path, capsys):
    model, path = tiny_model
    _images(tmp_path / "in")
    assert main(["--model", path, "--images", str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr()
    assert "2 of 3 images segmented" in out.out and "1 unreadable, skipped" in out.out
    assert "skipped" in out.err and "broken.png: cannot read the image" in out.err
    assert sorted(os.listdir(tmp_path / "out")) == ["a.png", "a_overlay.png", "b.png", "b_overlay.png"]
    for name in ("a", "b"):
        source = decoded((tmp_path / "in" / f"{name}.{'jpg' if name == 'a' else 'png'}").read_bytes())  # as serving decodes
        labels = Image.open(tmp_path / "out" / f"{name}.png")
        assert labels.mode == "P" and labels.size == (source.shape[1], source.shape[0])
        expected = np.argmax(model(source[None].astype("float32"), training=False).numpy()[0], -1)
        np.testing.assert_array_equal(np.asarray(labels), expected)
        assert Image.open(tmp_path / "out" / f"{name}_overlay.png").size == labels.size


def test_16_bit_pngs_gifs_and_decompression_bombs_are_read_as_serving_reads_them(tiny_model, tmp_path, monkeypatch, capsys):
    """A 16-bit grey PNG by its high byte (Pillow's RGB conversion clipped it to 255), a GIF's
    first frame, and a file over Pillow's decompression-bomb limit named and skipped."""
    from kseg.inference.images import read_rgb

    folder = tmp_path / "in"
    folder.mkdir()
    grey = np.random.default_rng(1).integers(0, 65536, (30, 40)).astype(np.uint16)
    Image.fromarray(grey).save(folder / "deep.png")
    assert Image.open(folder / "deep.png").mode == "I;16"
    np.testing.assert_array_equal(read_rgb(str(folder / "deep.png")), np.repeat((grey >> 8).astype(np.uint8)[..., None], 3, -1))
    frames = [Image.fromarray(np.full((24, 20, 3), value, np.uint8)) for value in (40, 200)]
    frames[0].save(folder / "moving.gif", save_all=True, append_images=frames[1:])
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(folder / "huge.tif")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 400 pixels: over twice the limit, Pillow's error
    assert main(["--model", tiny_model[1], "--images", str(folder), "--out", str(tmp_path / "out")]) == 0
    monkeypatch.undo()
    out = capsys.readouterr()
    assert "2 of 3 images segmented" in out.out and "huge.tif: cannot read the image (Image size (400 pixels) exceeds" in out.err
    assert Image.open(tmp_path / "out" / "moving.png").size == (20, 24)
    np.testing.assert_array_equal(read_rgb(str(folder / "moving.gif")), np.full((24, 20, 3), 40, np.uint8))


def test_options_globs_and_what_cannot_be_read(tiny_model, tmp_path, capsys):
    _, path = tiny_model
    _images(tmp_path / "in")
    pattern = str(tmp_path / "in" / "*.jpg")
    assert main(["--model", path, "--images", pattern, "--out", str(tmp_path / "o"), "--scales", "0.5,1.0", "--flip"]) == 0
    assert sorted(os.listdir(tmp_path / "o")) == ["a.png", "a_overlay.png"]
    assert main(["--model", path, "--images", str(tmp_path / "in" / "broken.png"), "--out", str(tmp_path / "x")]) == 1
    with pytest.raises(SystemExit):
        main(["--model", path, "--images", str(tmp_path / "nothing"), "--out", str(tmp_path / "y")])
    assert "--images " in capsys.readouterr().err


def test_a_saved_model_predicts_as_exported(tiny_model, tmp_path, capsys):
    from kseg.serving import export_saved_model
    from kseg.serving.labels import labels_metadata

    model, _ = tiny_model
    colours = [[9, 9, 9], [200, 0, 0], [0, 0, 200]]
    served = export_saved_model(model, str(tmp_path / "serving"), "pan", labels=labels_metadata(["x", "y", "z"], colours))
    _images(tmp_path / "in")
    assert main(["--model", served, "--images", str(tmp_path / "in" / "b.png"), "--out", str(tmp_path / "o")]) == 0
    source = np.asarray(Image.open(tmp_path / "in" / "b.png").convert("RGB"))
    expected = np.argmax(model(source[None].astype("float32"), training=False).numpy()[0], -1)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "o" / "b.png")), expected)
    assert Image.open(tmp_path / "o" / "b.png").getpalette()[:9] == sum(colours, [])  # the export's class colours
    with pytest.raises(SystemExit):
        main(["--model", served, "--images", str(tmp_path / "in"), "--out", str(tmp_path / "p"), "--flip"])
    assert "need a .keras model or run folder" in capsys.readouterr().err


def test_run_names_the_model_as_it_does_for_evaluate_and_tune_crf(tiny_model, tmp_path):
    _, path = tiny_model
    _images(tmp_path / "in")
    for option in ("--model", "--run"):
        assert main([option, path, "--images", str(tmp_path / "in" / "b.png"), "--out", str(tmp_path / option)]) == 0
    assert (tmp_path / "--run" / "b.png").read_bytes() == (tmp_path / "--model" / "b.png").read_bytes()


def test_label_ids_of_a_benchmark_whose_classes_the_model_lacks_are_refused(saved_run, tmp_path, capsys):
    run, _ = saved_run  # 5 built-in classes
    _images(tmp_path / "in")
    with pytest.raises(SystemExit):
        main(["--run", run, "--images", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--label-ids", "cityscapes"])
    assert (f"--label-ids cityscapes maps the 19 cityscapes train ids (road, sidewalk, building, ...); {run} has 5 classes"
            in capsys.readouterr().err)
    assert not os.path.exists(tmp_path / "out")


def test_a_model_at_a_url_segments_like_its_local_file(tiny_model, tmp_path):
    import tensorflow as tf

    url = f"ram://{tmp_path.name}/models/pan.keras"
    tf.io.gfile.makedirs(url.rsplit("/", 1)[0])
    tf.io.gfile.copy(tiny_model[1], url)
    _images(tmp_path / "in")
    for model, out in ((url, "remote"), (tiny_model[1], "local")):
        assert main(["--model", model, "--images", str(tmp_path / "in"), "--out", str(tmp_path / out)]) == 0
    for name in ("a.png", "b.png"):
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "remote" / name)), np.asarray(Image.open(tmp_path / "local" / name)))
