import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import kseg.data as kd
from kseg.data.augment import augment, pad_to
from kseg.visualize import voc_palette


@pytest.fixture
def builtin_root(data_root):
    return data_root


def _write_pair(root, name, image, mask, palette=True):
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    os.makedirs(os.path.join(root, "masks"), exist_ok=True)
    Image.fromarray(image).save(os.path.join(root, "images", f"{name}.png"))
    png = Image.fromarray(mask, mode="P" if palette else "L")
    if palette:
        png.putpalette(voc_palette().flatten().tolist())
    png.save(os.path.join(root, "masks", f"{name}.png"))


def test_training_pipeline_shapes_values_and_determinism(builtin_root):
    pairs = kd.voc_pairs(builtin_root, "train")[:16]
    make = lambda: kd.segmentation_dataset(  # noqa: E731
        pairs, 5, training=True, batch_size=4, crop_size=(96, 80), scale_range=(0.5, 2.0), flip=True, seed=3
    )
    batches = list(make().take(3))
    for images, masks in batches:
        assert images.shape == (4, 96, 80, 3) and images.dtype == tf.float32
        assert masks.shape == (4, 96, 80) and masks.dtype == tf.int32
        assert set(np.unique(masks.numpy())) <= set(range(5)) | {255}
        assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 255.0
    again = list(make().take(3))
    for (a, b), (c, d) in zip(batches, again):
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        np.testing.assert_array_equal(b.numpy(), d.numpy())


def test_every_iterator_yields_the_same_stream_and_start_batch_resumes_it(builtin_root):
    # Keras and tf.distribute may iterate a dataset more than once; a resumed run skips
    # what the interrupted one consumed. Both need the stream to be a function of the seed.
    pairs = kd.voc_pairs(builtin_root, "train")[:6]
    make = lambda start=0: kd.segmentation_dataset(  # noqa: E731
        pairs, 5, training=True, batch_size=2, crop_size=(48, 48), scale_range=(0.5, 1.5), seed=7, repeat=True, start_batch=start
    )
    ds = make()
    first = [m.numpy() for _, m in ds.take(7)]  # 7 batches of 2 cross two epochs of 6 examples
    second = [m.numpy() for _, m in ds.take(7)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert any((a != b).any() for a, b in zip(first[:3], first[3:6]))  # each epoch its own order and crops
    resumed = [m.numpy() for _, m in make(start=4).take(3)]
    for a, b in zip(first[4:], resumed):
        np.testing.assert_array_equal(a, b)
    other_seed = kd.segmentation_dataset(pairs, 5, training=True, batch_size=2, crop_size=(48, 48), seed=8, repeat=True)
    assert any((a != m.numpy()).any() for a, (_, m) in zip(first, other_seed.take(7)))


def test_eval_pipeline_keeps_images_as_they_are(builtin_root):
    pairs = kd.voc_pairs(builtin_root, "val")[:3]
    for (image, mask), (image_path, mask_path) in zip(kd.segmentation_dataset(pairs, 5, training=False), pairs):
        expected_image, expected_mask = kd.read_pair(image_path, mask_path, 5)
        np.testing.assert_array_equal(image.numpy()[0], expected_image.astype(np.float32))
        np.testing.assert_array_equal(mask.numpy()[0], expected_mask)


def test_masks_are_resized_with_nearest_neighbour():
    rng = np.random.RandomState(0)
    image = rng.randint(0, 255, (40, 50, 3)).astype(np.uint8)
    mask = rng.choice([0, 3, 7, 255], (40, 50)).astype(np.uint8)
    for i in range(5):
        out_image, out_mask = augment(image, mask, tf.constant([i, 7], tf.int64), (64, 64), (0.5, 2.0), True)
        assert set(np.unique(out_mask.numpy())) <= {0, 3, 7, 255}


def test_padding_uses_mean_colour_and_ignore_label():
    image = np.zeros((10, 10, 3), np.float32)
    mask = np.zeros((10, 10), np.uint8)
    padded_image, padded_mask = pad_to(image, mask, 12, 13)
    assert padded_image.shape == (12, 13, 3)
    np.testing.assert_allclose(padded_image.numpy()[11, 12], [123.68, 116.779, 103.939], atol=1e-4)
    assert padded_mask.numpy()[11, 12] == 255 and padded_mask.numpy()[0, 0] == 0


def test_cityscapes_labels_map_to_train_ids(tmp_path):
    root = tmp_path / "cityscapes"
    (root / "leftImg8bit" / "val" / "aachen").mkdir(parents=True)
    (root / "gtFine" / "val" / "aachen").mkdir(parents=True)
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(root / "leftImg8bit" / "val" / "aachen" / "a_000_leftImg8bit.png")
    label_ids = np.array([[7, 8, 26, 33, 0, 1]] * 4, np.uint8)
    Image.fromarray(label_ids, mode="L").save(root / "gtFine" / "val" / "aachen" / "a_000_gtFine_labelIds.png")
    pairs = kd.cityscapes_pairs(str(root), "val")
    _, mask = kd.read_pair(*pairs[0], num_classes=19, label_table=kd.cityscapes_train_id_table())
    assert mask[0].tolist() == [0, 1, 13, 18, 255, 255]
    with pytest.raises(kd.DataError, match="gtCoarse/val/aachen/a_000_gtCoarse_labelIds.png does not exist"):
        kd.cityscapes_pairs(str(root), "val", annotation="gtCoarse")


def test_plain_folders(tmp_path):
    _write_pair(str(tmp_path), "a", np.zeros((5, 5, 3), np.uint8), np.ones((5, 5), np.uint8))
    _write_pair(str(tmp_path), "b", np.zeros((5, 5, 3), np.uint8), np.zeros((5, 5), np.uint8), palette=False)
    pairs = kd.folder_pairs(str(tmp_path))
    assert [os.path.basename(p[0]) for p in pairs] == ["a.png", "b.png"]
    assert kd.read_pair(*pairs[0], num_classes=2)[1].max() == 1
    os.remove(tmp_path / "masks" / "b.png")
    with pytest.raises(kd.DataError, match="b.png has no mask"):
        kd.folder_pairs(str(tmp_path))


def test_voc_list_naming_a_missing_file(builtin_root, tmp_path):
    root = tmp_path / "voc"
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    (root / "SegmentationClass").mkdir()
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("2007_000033\n")
    with pytest.raises(kd.DataError, match=r"val.txt names '2007_000033' but .*JPEGImages/2007_000033.jpg does not exist"):
        kd.voc_pairs(str(root), "val")
    with pytest.raises(kd.DataError, match=r"VOC split 'train_aug': no list file .* \(available: \['val'\]\)"):
        kd.voc_pairs(str(root), "train_aug")
    with pytest.raises(kd.DataError, match="VOC root: no such directory"):
        kd.voc_pairs(str(tmp_path / "nowhere"), "val")


def test_training_needs_a_crop_size(builtin_root):
    with pytest.raises(ValueError, match="crop_size is required"):
        kd.segmentation_dataset(kd.voc_pairs(builtin_root, "val"), 5, training=True)
