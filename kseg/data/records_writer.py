"""Writing a kseg dataset as sharded TFRecords (`python -m training.make_records`); the layout
and the record's features are described in `kseg.data.records`."""

import io
import json
import random
import re

import tensorflow as tf
from PIL import Image

from kseg.data.decode import read_pair
from kseg.data.records import DATASET_FILE, RECORDS_VERSION
from kseg.data.sources import DataError

SHARD_BYTES = 128 * 2**20
SHUFFLE_SEED = 0  # training splits are written in a seeded random order, validation in its own
_SHARD = re.compile(r"^(?P<split>.+)-(?P<index>[0-9]{5})-of-(?P<count>[0-9]{5})\.tfrecord$")
_PART = re.compile(r"^\..+\.part-[0-9]{5}\.tmp$")


def shard_name(split, index, count):
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def _png(array):
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


def _bytes_feature(value):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int_feature(value):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def encode_example(image_path, mask_path, num_classes, label_table=None):
    """Serialized `tf.train.Example` of one (image, mask) pair, checked by `read_pair`
    (a `DataError` naming the file otherwise)."""
    image, mask = read_pair(image_path, mask_path, num_classes, label_table)
    with tf.io.gfile.GFile(image_path, "rb") as f:
        data = f.read()
    if data[:3] == b"\xff\xd8\xff":
        kind = b"jpeg"
    elif data[:8] == b"\x89PNG\r\n\x1a\n":
        kind = b"png"
    else:
        data, kind = _png(image), b"png"
    features = {
        "image/encoded": _bytes_feature(data),
        "image/format": _bytes_feature(kind),
        "image/height": _int_feature(image.shape[0]),
        "image/width": _int_feature(image.shape[1]),
        "mask/encoded": _bytes_feature(_png(mask)),
        "image/source": _bytes_feature(str(image_path).encode()),
        "mask/source": _bytes_feature(str(mask_path).encode()),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def _remove_unfinished(out):
    """A folder without dataset.json: remove what an interrupted conversion wrote (its
    shards and part files), nothing else."""
    for name in tf.io.gfile.listdir(out):
        if _SHARD.match(name) or _PART.match(name):
            tf.io.gfile.remove(f"{out.rstrip('/')}/{name}")


class _ShardWriter:
    """Writes serialized examples into part files of about `shard_bytes`, then names them
    `<split>-NNNNN-of-MMMMM.tfrecord` once the count is known."""

    def __init__(self, out, split, shard_bytes):
        self.out, self.split, self.shard_bytes = out.rstrip("/"), split, shard_bytes
        self.parts, self.writer, self.size, self.count = [], None, 0, 0

    def write(self, record):
        if self.writer is None or self.size >= self.shard_bytes:
            self._close()
            self.parts.append(f"{self.out}/.{self.split}.part-{len(self.parts):05d}.tmp")
            self.writer, self.size = tf.io.TFRecordWriter(self.parts[-1]), 0
        self.writer.write(record)
        self.size += len(record)
        self.count += 1

    def _close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def finish(self):
        """The final shard names (renamed from the parts)."""
        self._close()
        names = [shard_name(self.split, i, len(self.parts)) for i in range(len(self.parts))]
        for part, name in zip(self.parts, names):
            tf.io.gfile.rename(part, f"{self.out}/{name}", overwrite=True)
        return names


def _source(spec):
    """`dataset.json`'s "source": where the records come from and how their masks were read."""
    label_map = {str(stored): target for stored, target in sorted(spec.label_map.items())}
    return {"format": spec.format, "root": str(spec.root), "label_map": label_map, "mask_colours": spec.mask_colours}


def _conversion(source, splits, class_names):
    """What a records folder was converted from: another conversion's records are not reused.
    (Records written before the label map and mask colours were recorded read as without them.)"""
    source = dict(source or {})
    source.setdefault("label_map", {})
    source.setdefault("mask_colours", False)
    return {"source": source, "splits": sorted(splits), "class_names": list(class_names or ())}


def _finished(done_file, spec, out):
    """The finished records' `dataset.json` plus `"unchanged": True`, when they are the
    conversion `spec` asks for; a `DataError` saying what differs otherwise."""
    with tf.io.gfile.GFile(done_file) as f:
        contents = json.load(f)
    held = _conversion(contents.get("source"), contents.get("splits") or {}, contents.get("class_names"))
    wanted = _conversion(_source(spec), spec.splits, spec.class_names)
    differ = [f"{key} {held[key]} there, {wanted[key]} asked" for key in wanted if held[key] != wanted[key]]
    if differ:
        raise DataError(f"{out} holds finished records of another conversion ({'; '.join(differ)}): write to another --out, or delete {out} first")
    return {**contents, "unchanged": True}


def write_records(spec, out, shard_bytes=SHARD_BYTES, skip_bad_examples=False, progress=None):
    """Convert the dataset `spec` names into records in `out`: its training splits and its
    validation split, each once (the validation split with Cityscapes' fine labels).

    Args:
        spec: a `kseg.data.DatasetSpec` (format, root, splits, annotation, classes, palette, label map).
        out: the records folder (created; a `tf.io.gfile` path).
        shard_bytes: int. A shard is closed once it holds this many bytes. Defaults to 128 MB.
        skip_bad_examples: leave out pairs `read_pair` refuses (listed in the result and in
            `dataset.json`) instead of stopping at the first with its `DataError`.
        progress: None or callable(split, done, total).

    Returns:
        The `dataset.json` contents, plus `"unchanged": True` when `out` already held finished
        records of the same conversion (nothing is written then; records of another source,
        splits or class list are a `DataError`).
    """
    from kseg import __version__
    from kseg.data.formats import format_reader, resolve_classes
    from kseg.data.label_checks import refuse_foreground_ignored
    from kseg.data.spec import require_spec
    from kseg.serving.labels import dataset_labels

    require_spec(spec, "write_records")
    if spec.format == "records":
        raise DataError(f"data.root {spec.root} holds records already: point data.format and data.root at the source dataset")
    spec = resolve_classes(spec)
    done_file = f"{out.rstrip('/')}/{DATASET_FILE}"
    if tf.io.gfile.exists(done_file):
        return _finished(done_file, spec, out)
    tf.io.gfile.makedirs(out)
    _remove_unfinished(out)
    label_table, read = format_reader(spec)
    summary = {"splits": {}, "skipped": {}}
    for split in spec.splits:
        pairs = list(read(split, "gtFine" if split == spec.val_split else spec.annotation))
        refuse_foreground_ignored(pairs, label_table, f"split {split!r}")
        if split != spec.val_split:
            random.Random(SHUFFLE_SEED).shuffle(pairs)
        writer = _ShardWriter(out, split, shard_bytes)
        for done, (image_path, mask_path) in enumerate(pairs, start=1):
            try:
                writer.write(encode_example(image_path, mask_path, spec.num_classes, label_table))
            except DataError as error:
                if not skip_bad_examples:
                    raise
                summary["skipped"][str(image_path)] = str(error)
            if progress:
                progress(split, done, len(pairs))
        summary["splits"][split] = {"examples": writer.count, "shards": writer.finish()}
    contents = {
        "kseg_records": RECORDS_VERSION, "kseg_version": __version__, **dataset_labels(spec),
        "source": _source(spec), **summary,
    }
    staging = f"{out.rstrip('/')}/.{DATASET_FILE}.tmp"
    with tf.io.gfile.GFile(staging, "w") as f:
        json.dump(contents, f, indent=2)
    tf.io.gfile.rename(staging, done_file, overwrite=True)
    return contents
