"""Sharded TFRecords of a kseg dataset (`python -m training.make_records`).

Layout of a records folder (any filesystem `tf.io.gfile` reads: local, `gs://`, `ram://`):

    <split>-00000-of-00003.tfrecord ...   one set per split, shards of about `shard_bytes`
    dataset.json                           written last: class names, palette, counts, shards

Each record is a `tf.train.Example`:
    image/encoded   the image file's bytes as they are (a JPEG is not re-encoded; formats
                    TensorFlow's decoders do not take are stored as PNG)
    image/format    b"jpeg" or b"png"
    image/height, image/width   int64
    mask/encoded    a single-channel 8-bit PNG of training ids (the format's label table
                    applied; 255 ignored): `tf.io.decode_png` reads it as it is, where a
                    palette PNG would come back as the palette's colours
    image/source, mask/source   the source files' paths, named in errors

Every example is checked on the way in by `kseg.data.read_pair` (the messages of today's
pipeline); `dataset.json` is written only once every shard is complete, so a folder
without it holds no finished records (a rerun removes the unfinished shards and starts
again). Writing: `kseg.data.records_writer`; reading: this module and
`kseg.data.records_pipeline`.
"""

import dataclasses
import json
import re

import tensorflow as tf

from kseg.constants import IGNORE_LABEL
from kseg.data.sources import DataError

DATASET_FILE = "dataset.json"
RECORDS_VERSION = 1


def read_dataset_file(root):
    """The `dataset.json` of the records folder `root`; a `DataError` naming it when missing or unreadable."""
    path = f"{str(root).rstrip('/')}/{DATASET_FILE}"
    if not tf.io.gfile.exists(path):
        raise DataError(
            f"data.root {root} holds no {DATASET_FILE}: not finished records (write them with python -m training.make_records)"
        )
    try:
        with tf.io.gfile.GFile(path) as f:
            contents = json.load(f)
    except (ValueError, tf.errors.OpError) as error:
        raise DataError(f"{path}: cannot read it ({error})") from None
    if contents.get("kseg_records") != RECORDS_VERSION:
        raise DataError(f"{path}: not kseg records of version {RECORDS_VERSION}")
    return contents


SHARDS_READ = set()  # the shards pipelines of this process read: where a corrupt record is looked for


def records_data_error(error):
    """The `DataError` a records pipeline's `tf.errors.OpError` stands for, or None: a failed
    check of `decode_record` (its message), or a corrupt record (`DataLossError`, which names
    no file: the shards read are checked one by one to name it)."""
    text = getattr(error, "message", "") or ""
    if DATA_ERROR in text:
        return DataError(re.split(r"[\]\n]", text.split(DATA_ERROR, 1)[1])[0])
    if not isinstance(error, tf.errors.DataLossError):
        return None
    for path in sorted(SHARDS_READ):
        try:
            for _ in tf.data.TFRecordDataset(path):
                pass
        except tf.errors.DataLossError as found:
            reason = found.message.split("}}")[-1].split("[")[0].strip()
            return DataError(f"{path}: a corrupt record shard ({reason}); write the records again (python -m training.make_records)")
    return None


def split_files(root, contents, split):
    """The shard paths of `split` listed in a records folder's `dataset.json`."""
    if split not in contents["splits"]:
        raise DataError(f"data.root {root} has no split {split!r}; it has {sorted(contents['splits'])}")
    return [f"{str(root).rstrip('/')}/{name}" for name in contents["splits"][split]["shards"]]


def decode_mask(data):
    """uint8 `(H, W)` of a record's `mask/encoded` PNG."""
    return tf.io.decode_png(data, channels=1)[..., 0]


@dataclasses.dataclass(frozen=True)
class RecordsSplit:
    """One or several splits of a records folder where other formats have (image, mask)
    path pairs: `len()` is its number of examples, `[:n]` its first n (records are read in
    order), the pipelines read `files`."""

    files: tuple
    count: int
    name: str
    limit: int = None

    def __len__(self):
        return self.count if self.limit is None else min(self.count, self.limit)

    def __getitem__(self, item):
        if not isinstance(item, slice) or item.start not in (None, 0) or item.step not in (None, 1):
            raise TypeError(f"records are read in order: only [:n] selects from them. Received: {item!r}")
        return self if item.stop is None else dataclasses.replace(self, limit=min(len(self), item.stop))

    def __bool__(self):
        return len(self) > 0


def records_split(root, contents, splits):
    """`RecordsSplit` of the union of `splits` (a name, or a list or tuple of names) of the
    records folder `root`."""
    names = [splits] if isinstance(splits, str) else list(splits)
    files = tuple(path for name in names for path in split_files(root, contents, name))
    return RecordsSplit(files, sum(contents["splits"][name]["examples"] for name in names), "+".join(names))


FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/height": tf.io.FixedLenFeature([], tf.int64),
    "image/width": tf.io.FixedLenFeature([], tf.int64),
    "mask/encoded": tf.io.FixedLenFeature([], tf.string),
    "mask/source": tf.io.FixedLenFeature([], tf.string),
}
DATA_ERROR = "kseg data error: "  # how an assertion in a records pipeline marks a `DataError`


def _check(ok, message_parts):
    """An assertion of `ok` whose message (`message_parts()`, a `DATA_ERROR` message) is
    computed only when it fails: a message is a reduction over the whole mask."""
    from kseg.serving.decoding import message

    def fail():
        with tf.control_dependencies([tf.debugging.Assert(False, [message(DATA_ERROR, *message_parts())])]):
            return tf.constant(False)

    return tf.cond(ok, lambda: tf.constant(True), fail)


def _checks(example, image_hw, mask, num_classes):
    """In-graph checks of a record: the image, the mask and the recorded size agree, labels
    are < `num_classes` or 255. A failure names the record's mask file."""
    from kseg.serving.exif import TURNED_HINT, exif_orientation

    mask_hw = tf.shape(mask, out_type=tf.int64)
    recorded = tf.stack([example["image/height"], example["image/width"]])
    same = tf.reduce_all(tf.equal(image_hw, mask_hw)) & tf.reduce_all(tf.equal(image_hw, recorded))
    source = example["mask/source"]
    in_range = tf.constant(True) if num_classes >= IGNORE_LABEL else tf.reduce_all((mask < num_classes) | (mask == IGNORE_LABEL))
    return [
        _check(same, lambda: (
            source, ": mask is ", mask_hw[1], "x", mask_hw[0], " but its image is ", image_hw[1], "x", image_hw[0],
            tf.where(tf.equal(exif_orientation(example["image/encoded"]), 1), "", TURNED_HINT),
        )),
        _check(in_range, lambda: (
            source, ": label values up to ", tf.reduce_max(tf.where(mask == IGNORE_LABEL, tf.zeros_like(mask), mask)),
            f" are not < num_classes={num_classes} nor the ignore label {IGNORE_LABEL}",
        )),
    ]


def decode_record(record, num_classes):
    """(image uint8 `(H, W, 3)`, mask uint8 `(H, W)`) of a serialized record, decoded with
    TensorFlow's decoder as the exported serving graph decodes images
    (`kseg.serving.decoding.decode_pixels`), and checked in the graph (`_checks`: a failure
    is a `DATA_ERROR` message naming the record's mask file, turned into a `DataError` by
    `kseg.data.named_data_errors`)."""
    from kseg.serving.decoding import decode_pixels

    example = tf.io.parse_single_example(record, FEATURES)
    image, mask = decode_pixels(example["image/encoded"]), decode_mask(example["mask/encoded"])
    with tf.control_dependencies(_checks(example, tf.shape(image, out_type=tf.int64)[:2], mask, num_classes)):
        return tf.identity(image), tf.identity(mask)


def read_record(record, num_classes):
    """(image region reader, mask uint8 `(H, W)`) of a serialized record: the image is not
    decoded here; the reader (`kseg.data.image_region.region_reader`) decodes the region a
    training crop samples, pixel-identical to `decode_record`'s. Checked as `decode_record`
    checks, the image's size read from its header."""
    from kseg.data.image_region import region_reader
    from kseg.serving.exif import exif_orientation
    from kseg.serving.graph import encoded_image_shape

    example = tf.io.parse_single_example(record, FEATURES)
    data, mask = example["image/encoded"], decode_mask(example["mask/encoded"])
    orientation = exif_orientation(data)  # read once, for the size check and the reader
    with tf.control_dependencies(_checks(example, encoded_image_shape(data, 0, orientation), mask, num_classes)):
        mask = tf.identity(mask)
    return region_reader(data, tf.shape(mask), orientation), mask
