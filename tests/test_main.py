import json

import numpy as np
import pytest
from PIL import Image

from kseg.__main__ import main


def test_demo_segments_a_photo_and_writes_masks(tmp_path, capsys):
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.random.RandomState(0).randint(0, 255, (48, 64, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "out"
    assert main(["--image", str(photo), "--model", "deeplabv2", "--num-classes", "5", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["output_shape"] == [48, 64, 5]
    labels = np.asarray(Image.open(out / "labels.png"))
    assert labels.shape == (48, 64) and labels.max() < 5
    assert np.asarray(Image.open(out / "mask.png")).shape == (48, 64, 3)


def test_demo_default_photo_ships_with_matplotlib():
    from kseg.__main__ import _default_image

    image = Image.open(_default_image())
    assert image.size == (512, 600)


def test_demo_bad_image_paths(tmp_path):
    with pytest.raises(SystemExit, match="no such file"):
        main(["--image", str(tmp_path / "missing.jpg")])
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(SystemExit, match="cannot read"):
        main(["--image", str(bad)])
