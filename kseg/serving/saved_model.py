"""SavedModel export in TF Serving's layout, written atomically."""

import os
import re
import shutil
import tempfile

import tensorflow as tf

from kseg.atomic import atomic_path, remove_stale_staging, write_json, write_text
from kseg.constants import SERVING_SIGNATURE, TENSOR_SIGNATURE
from kseg.layers.crf import build_crf_for
from kseg.output_paths import url_scheme
from kseg.remote_io import join, replace_text
from kseg.serving.archive import SignatureArchive
from kseg.serving.labels import SAVED_MODEL_LABELS
from kseg.serving.graph import MAX_PIXELS, MAX_SIDE, Segmenter, make_crf, segment_encoded, segment_tensor
from kseg.serving.upload import upload_version

_VERSION = re.compile(r"^[0-9]+$")
EXPORT_METADATA = "export.json"  # assets.extra/export.json: how the graph was exported (its CRF parameters)


class ExportError(Exception):
    """The export cannot proceed (existing version, bad arguments, bad destination)."""


def existing_versions(model_dir):
    """Integer versions present in `<out>/<name>` (the folders TF Serving would load; local
    or any filesystem `tf.io.gfile` reads)."""
    if not tf.io.gfile.isdir(model_dir):
        return []
    names = [n.rstrip("/") for n in tf.io.gfile.listdir(model_dir)]
    return sorted(int(n) for n in names if _VERSION.match(n) and tf.io.gfile.isdir(join(model_dir, n)))


def _version_folder(out, name, version, overwrite):
    """(`<out>/<name>`, the version, its folder): `version` or the next integer, checked
    positive, and refused if it exists without `overwrite`."""
    model_dir = join(out, name)
    if version is None:
        version = (existing_versions(model_dir) or [0])[-1] + 1
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ExportError(f"Expected a positive integer version. Received: version={version!r}")
    final = join(model_dir, str(version))
    if tf.io.gfile.exists(final) and not overwrite:
        raise ExportError(f"{final} already exists; choose another --version or pass --overwrite")
    return model_dir, version, final


def build_archive(
    model, crf=None, size=None, include_probabilities=True, crf_params=None, max_side=MAX_SIDE, max_pixels=MAX_PIXELS
):
    """A `SignatureArchive` with the `serving_default` (encoded images) and `predict_tensor`
    (float images) signatures. See `export_saved_model`."""
    crf_layer = make_crf(crf, **(crf_params or {})) if isinstance(crf, str) or crf is None else crf
    segmenter = Segmenter(model, crf_layer, size, max_side=max_side)
    build_crf_for(crf_layer, model)  # its weights exist before the signatures are traced
    if not model.built or (crf_layer is not None and not crf_layer.built):
        segmenter(tf.zeros([1, 32, 32, 3]))  # a model of unknown shapes: an eager call builds both

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
    def serve_encoded(images):
        return segment_encoded(segmenter, images, include_probabilities, max_pixels=max_pixels)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    def serve_tensor(images):
        return segment_tensor(segmenter, images, include_probabilities)

    # tf.functions with their own signatures: autograph turns the per-image loops into while loops
    return SignatureArchive(
        {SERVING_SIGNATURE: serve_encoded.get_concrete_function(), TENSOR_SIGNATURE: serve_tensor.get_concrete_function()}
    )


def export_saved_model(
    model,
    out,
    name,
    version=None,
    crf=None,
    size=None,
    include_probabilities=True,
    overwrite=False,
    crf_params=None,
    metadata=None,
    serving_root=None,
    max_side=MAX_SIDE,
    max_pixels=MAX_PIXELS,
    labels=None,
):
    """Export `model` for TF Serving as `<out>/<name>/<version>/`, registered in `<out>/models.config`.

    The version folder is built in a hidden staging folder inside `<out>/<name>` (same
    filesystem; TF Serving ignores names that are not integers) and renamed into place, so a
    server polling `<out>/<name>` never sees a partial version; staging folders left by an
    interrupted export are removed at the next export. Files get ordinary permissions
    (the umask's), so a server running as another user can read them. An `out` URL (`gs://`,
    any filesystem `tf.io.gfile` writes) gets the version exported locally, then uploaded
    with its graph last (`kseg.serving.upload`), and models.config rewritten in place.

    Signatures (B >= 1; an empty batch is an `InvalidArgumentError`):
        `serving_default`: `images` tf.string `(B,)` encoded JPEG/PNG/GIF/BMP -> `labels`
            int32 `(B, Hmax, Wmax)` (255 outside each image), `image_shape` int32 `(B, 2)`,
            `probabilities` float32 `(B, Hmax, Wmax, C)` (unless `include_probabilities=False`).
            Bytes of another format, or an image of more than `max_pixels` pixels (read
            from its header, before decoding), fail the request with an error naming it
            (`images[1]: ...`).
        `predict_tensor`: `images` float32 `(B, H, W, 3)` RGB in [0, 255] -> `labels` int32
            `(B, H, W)`, `probabilities` float32 `(B, H, W, C)`.
    In both, an image whose longer side exceeds `max_side` runs through the network
    downscaled to that side; labels and probabilities come back at the image's own size.

    Args:
        model: a kseg segmentation model (RGB 0-255 in, logits out).
        out: the serving root folder (created if missing).
        name: the model name (TF Serving's `--model_name`, the REST path `/v1/models/<name>`).
        version: positive int, or `None` for one more than the highest existing version.
        crf: `None`, "dense" or "conv": CRF refinement inside the graph; `crf_params` its
            constructor arguments.
        size: `None` (run at each image's size) or `(H, W)` to resize to before the model.
        include_probabilities: also return the per-class probabilities.
        overwrite: replace an existing version (otherwise an `ExportError`).
        metadata: None or a JSON-able dict for `assets.extra/export.json` (e.g. the CRF's parameters).
        serving_root: the path at which the server sees `out` (written into models.config).
            Defaults to "/models" (the tensorflow/serving Docker image's) for a local `out`,
            and to `out` itself for a URL.
        max_side: int or None. Longest side the network sees (without `size`). Defaults to 2048.
        max_pixels: int or None. Largest image `serving_default` accepts. Defaults to 50,000,000.

    Returns:
        The path of the version folder.
    """
    _check_destination(out, name)
    model_dir, version, final = _version_folder(out, name, version, overwrite)
    if url_scheme(out):
        options = dict(crf=crf, size=size, include_probabilities=include_probabilities, crf_params=crf_params,
                       metadata=metadata, max_side=max_side, max_pixels=max_pixels, labels=labels)
        return _export_to_url(model, out, name, version, final, serving_root or out, options)
    os.makedirs(model_dir, exist_ok=True)

    _remove_litter(out, model_dir)
    archive = build_archive(
        model, crf=crf, size=size, include_probabilities=include_probabilities, crf_params=crf_params,
        max_side=max_side, max_pixels=max_pixels,
    )
    with atomic_path(final) as staging:
        archive.write_out(staging)
        extra = os.path.join(staging, os.path.dirname(SAVED_MODEL_LABELS))
        for filename, contents in ((os.path.basename(SAVED_MODEL_LABELS), labels), (EXPORT_METADATA, metadata)):
            if contents is not None:
                os.makedirs(extra, exist_ok=True)
                write_json(os.path.join(extra, filename), contents)
    write_models_config(out, name, serving_root or "/models")
    return final


def _export_to_url(model, out, name, version, final, serving_root, options):
    """`export_saved_model` to a local temporary folder, uploaded to `final`
    (`<out>/<name>/<version>`, `kseg.serving.upload`), then registered in `<out>/models.config`."""
    with tempfile.TemporaryDirectory() as local:
        upload_version(export_saved_model(model, local, name, version, **options), final)
    write_models_config(out, name, serving_root)
    return final


def _check_destination(out, name):
    """Refuse, before any work, a name that is not one folder name and a models.config that
    kseg cannot update."""
    if not re.match(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$", name or ""):
        raise ExportError(
            f"Expected a model name of letters, digits, '_', '-' or '.', not starting with '.'. Received: name={name!r}"
        )
    try:
        _parse_models_config(join(out, "models.config"))
    except ValueError as error:
        raise ExportError(str(error)) from None


# Staging names of kseg <= 0.1 (tempfile.mkdtemp, no owner recorded): any left is litter.
_LEGACY_STAGING = re.compile(r"^\.(tmp-[0-9]+|old)-[A-Za-z0-9_]+$")


def _remove_litter(out, model_dir):
    """Staging folders an interrupted export left in `model_dir` and `out`."""
    removed = remove_stale_staging(model_dir) + remove_stale_staging(out)
    for name in os.listdir(model_dir):
        if _LEGACY_STAGING.match(name) and os.path.isdir(os.path.join(model_dir, name)):
            shutil.rmtree(os.path.join(model_dir, name), ignore_errors=True)
            removed.append(os.path.join(model_dir, name))
    return removed


def _parse_models_config(path):
    """The ModelServerConfig in `path` (empty when there is none); a ValueError naming the
    file when it is not a text ModelServerConfig."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    if not tf.io.gfile.exists(path):
        return config
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            text_format.Parse(f.read().decode("utf-8"), config)
    except (text_format.ParseError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not a TF Serving ModelServerConfig text proto ({error}); fix or remove it") from None
    if config.WhichOneof("config") == "custom_model_config":
        raise ValueError(f"{path} holds a custom_model_config, not a model_config_list: kseg will not rewrite it")
    return config


def read_models_config(path):
    """{name: base_path} of the models a models.config lists."""
    return {entry.name: entry.base_path for entry in _parse_models_config(path).model_config_list.config}


def write_models_config(out, name, serving_root="/models"):
    """Add (or update) `name` in `<out>/models.config` (TF Serving's `--model_config_file`,
    a ModelServerConfig text proto), read and written as the protocol buffer: of this model's
    entry only `base_path` and `model_platform` are set, every other entry and field (a
    `model_version_policy`, labels, logging) stays as it was; atomic rewrite (at a URL:
    written beside it, then renamed over it)."""
    from google.protobuf import text_format

    path = join(out, "models.config")
    config = _parse_models_config(path)
    entries = config.model_config_list.config
    entry = next((e for e in entries if e.name == name), None) or entries.add(name=name)
    entry.base_path = f"{serving_root.rstrip('/')}/{name}"
    entry.model_platform = "tensorflow"
    text = text_format.MessageToString(config)
    if not url_scheme(out):
        return write_text(path, text)
    return replace_text(path, text)
