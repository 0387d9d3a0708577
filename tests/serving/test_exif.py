"""EXIF orientation (kseg/serving/exif.py): every decoder of kseg shows a photo as viewers do,
checked against Pillow's `ImageOps.exif_transpose` on the same stored pixels."""

import io

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageOps

from kseg.serving.decoding import decode_pixels
from kseg.serving.exif import exif_orientation, pillow_displayed
from kseg.serving.graph import Segmenter, encoded_image_shape, segment_encoded, segment_tensor

PICTURE = np.random.default_rng(0).integers(0, 255, (24, 40, 3)).astype(np.uint8)  # not square: quarter turns show


def _with_orientation(orientation, fmt="JPEG", endian="<", extra_tags=True):
    picture = Image.fromarray(PICTURE)
    exif = Image.Exif()
    exif.endian = endian
    if extra_tags:  # entries before and after the tag in IFD0 (Pillow writes them in tag order)
        exif[0x010F], exif[0x0131] = "camera", "editor"
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, exif=exif.tobytes(), quality=95)
    return buffer.getvalue()


def _viewer(data):
    """What Pillow shows of `data`: its decode turned by its own `ImageOps.exif_transpose`."""
    with Image.open(io.BytesIO(data)) as opened:
        return np.asarray(ImageOps.exif_transpose(opened).convert("RGB"))


@pytest.mark.parametrize("fmt, endian", [("JPEG", "<"), ("JPEG", ">"), ("PNG", "<"), ("PNG", ">")])
def test_every_orientation_is_read_and_turned_as_pillow_turns_it(fmt, endian):
    for orientation in range(1, 9):
        data = _with_orientation(orientation, fmt, endian)
        assert int(exif_orientation(tf.constant(data))) == orientation
        shown = decode_pixels(tf.constant(data)).numpy()
        np.testing.assert_array_equal(shown, _viewer(data))
        assert tuple(encoded_image_shape(tf.constant(data), 0).numpy()) == shown.shape[:2]
        with Image.open(io.BytesIO(data)) as opened:  # the file pipeline's reading
            np.testing.assert_array_equal(np.asarray(pillow_displayed(opened).convert("RGB")), shown)


def _as_long(data, endian):
    """`data` with its Orientation entry rewritten from SHORT to LONG, as some writers store it."""
    order = "little" if endian == "<" else "big"
    tiff = data.index(b"Exif\0\0") + 6
    at = data.index((0x0112).to_bytes(2, order) + (3).to_bytes(2, order), tiff)
    value = int.from_bytes(data[at + 8 : at + 10], order)
    return data[:at + 2] + (4).to_bytes(2, order) + data[at + 4 : at + 8] + value.to_bytes(4, order) + data[at + 12 :]


@pytest.mark.parametrize("endian", ["<", ">"])
def test_an_orientation_stored_as_long_is_read_as_pillow_reads_it(endian):
    for orientation in (3, 6, 8):
        data = _as_long(_with_orientation(orientation, "JPEG", endian), endian)
        assert int(exif_orientation(tf.constant(data))) == orientation
        np.testing.assert_array_equal(decode_pixels(tf.constant(data)).numpy(), _viewer(data))


def _jpeg_segments(data):
    """(marker segments after the start of image, the rest from the first start of frame)."""
    at = data.index(b"\xff\xdb")  # the quantisation tables follow Pillow's APPn segments
    return data[2:at], data[at:]


def test_the_exif_segment_is_found_after_other_app_segments_and_a_bad_tag_reads_as_stored():
    segments, rest = _jpeg_segments(_with_orientation(6))
    xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>"
    after_xmp = b"\xff\xd8" + b"\xff\xe1" + (len(xmp) + 2).to_bytes(2, "big") + xmp + segments + rest
    assert int(exif_orientation(tf.constant(after_xmp))) == 6
    for value in (0, 9, 300):
        assert int(exif_orientation(tf.constant(_with_orientation(value)))) == 1
    data = _with_orientation(6)
    tiff = data.index(b"Exif\0\0") + 6
    broken = {
        "not a TIFF header": data[:tiff] + b"XX" + data[tiff + 2 :],
        "IFD0 past the end": data[:tiff + 4] + b"\x7f\xff\xff\xff" + data[tiff + 8 :],
        "cut inside the EXIF block": data[: tiff + 12],
        "no EXIF": b"\xff\xd8" + b"\xff\xe0\x00\x04ab" + data[data.index(b"\xff\xdb"):],
        "empty": b"",
        "a GIF": b"GIF89a" + data[6:],
    }
    for name, bytes_ in broken.items():
        assert int(exif_orientation(tf.constant(bytes_))) == 1, name


def test_a_turned_photo_is_served_turned_and_segmented_like_its_turned_pixels():
    inputs = keras.Input((None, None, 3))
    segmenter = Segmenter(keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same")(inputs)))
    data = [_with_orientation(6), _with_orientation(1)]
    served = tf.function(lambda images: segment_encoded(segmenter, images))(tf.constant(data))  # as exported
    assert served["image_shape"].numpy().tolist() == [[40, 24], [24, 40]]
    turned = decode_pixels(tf.constant(data[0])).numpy().astype("float32")
    np.testing.assert_array_equal(turned, _viewer(data[0]))
    alone = segment_tensor(segmenter, turned[None])["labels"].numpy()[0]
    np.testing.assert_array_equal(served["labels"].numpy()[0, :40, :24], alone)


def _photo_dataset(root, mask_turned=True):
    """A folder dataset whose one photo (train and val) is stored sideways with EXIF
    orientation 6 and a mask drawn on the upright picture (or, `mask_turned=False`, on the
    stored one)."""
    mask = np.indices((40, 24)).sum(0).astype(np.uint8) % 3 if mask_turned else np.zeros((24, 40), np.uint8)
    for split in ("train", "val"):
        (root / split / "images").mkdir(parents=True)
        (root / split / "masks").mkdir(parents=True)
        (root / split / "images" / "a.jpg").write_bytes(_with_orientation(6))
        Image.fromarray(mask).save(root / split / "masks" / "a.png")
    return mask


def test_training_reads_a_turned_photo_upright_from_files_and_records_alike(tmp_path):
    import kseg.data as kd
    from kseg.training.config import dataset_spec, load_config

    mask = _photo_dataset(tmp_path / "data")
    config = load_config(overrides=["data.format=folder", f"data.root={tmp_path / 'data'}", "data.class_names=[a, b, c]"])
    spec = dataset_spec(config)
    files = kd.dataset_splits(spec)
    image, labels = next(iter(kd.segmentation_dataset(files.val_pairs, 3, training=False)))
    np.testing.assert_array_equal(labels[0], mask)
    np.testing.assert_array_equal(image[0].numpy().astype(np.uint8), _viewer(_with_orientation(6)))
    kd.write_records(spec, str(tmp_path / "records"))
    records = kd.dataset_splits(kd.DatasetSpec("records", str(tmp_path / "records")))
    image, labels = next(iter(kd.segmentation_dataset(records.val_pairs, 3, training=False)))
    np.testing.assert_array_equal(labels[0], mask)
    np.testing.assert_array_equal(image[0].numpy().astype(np.uint8), _viewer(_with_orientation(6)))
    crops, crop_labels = next(iter(kd.segmentation_dataset(records.train_pairs, 3, training=True, crop_size=(16, 16), seed=3)))
    assert crops.shape == (1, 16, 16, 3) and np.isin(crop_labels.numpy(), [0, 1, 2]).all()  # regions of the upright photo


def test_a_mask_drawn_on_the_stored_pixels_is_refused_with_the_reason(tmp_path):
    import kseg.data as kd
    from kseg.data.decode import read_pair

    _photo_dataset(tmp_path, mask_turned=False)
    with pytest.raises(kd.DataError, match=r"a.png: mask is 40x24 but its image .*a.jpg is 24x40 as its EXIF orientation turns it"):
        read_pair(str(tmp_path / "val" / "images" / "a.jpg"), str(tmp_path / "val" / "masks" / "a.png"), 3)


def test_records_of_a_mask_drawn_on_the_stored_pixels_fail_naming_it_and_the_reason(tmp_path, monkeypatch):
    # Records written before photos were read upright can hold such masks: the graph's check says why.
    import kseg.data.records_writer as writer
    from kseg.data.records import decode_record

    _photo_dataset(tmp_path, mask_turned=False)
    image, mask = str(tmp_path / "val" / "images" / "a.jpg"), str(tmp_path / "val" / "masks" / "a.png")
    stored = np.asarray(Image.open(image).convert("RGB"))  # as the writer read it before
    monkeypatch.setattr(writer, "read_pair", lambda *args: (stored, np.zeros((24, 40), np.uint8)))
    record = writer.encode_example(image, mask, 3)
    says = r"a.png: mask is 40x24 but its image is 24x40 as its EXIF orientation turns it"
    with pytest.raises(tf.errors.InvalidArgumentError, match=says):
        decode_record(tf.constant(record), 3)
