import io
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from kseg.serving import PAD_LABEL, ExportError, export_saved_model, existing_versions
from kseg.serving.saved_model import read_models_config
from tests.serving.conftest import decoded, photo

# tiny_pan's classifier is scaled by 300, so the serving graph's different float rounding
# (grappler folds each BatchNorm into its convolution) shows as up to ~1e-4 in probabilities.
TINY_PAN_ATOL = 2e-4
# One xdist worker runs this module and test_client.py, so the `exported` model (a session fixture) is exported once.
pytestmark = pytest.mark.xdist_group("serving_export")


def _reference(model, images):
    """In-process Keras model on each decoded image at its own size: (probabilities, labels)."""
    outs = [tf.nn.softmax(model.predict(image[None], verbose=0), axis=-1).numpy()[0] for image in images]
    return outs, [o.argmax(-1) for o in outs]


def test_tf_serving_layout_and_models_config(exported, tmp_path):
    out = os.path.dirname(os.path.dirname(exported))
    assert os.path.basename(exported) == "1" and existing_versions(os.path.dirname(exported)) == [1]
    assert os.path.isfile(os.path.join(exported, "saved_model.pb")) and os.path.isdir(os.path.join(exported, "variables"))
    assert read_models_config(os.path.join(out, "models.config")) == {"pan": "/models/pan"}
    text = open(os.path.join(out, "models.config")).read()
    assert text.startswith("model_config_list {") and 'model_platform: "tensorflow"' in text
    # nothing but the version folder in the model folder: the staging folder is gone
    assert os.listdir(os.path.dirname(exported)) == ["1"]


HAND_WRITTEN = """model_config_list {
  config {
    name: "mine"
    base_path: "/srv/mine"
    model_platform: "tensorflow"
    model_version_policy { specific { versions: 3 versions: 4 } }
    version_labels { key: "stable" value: 3 }
  }
  config {
    name: "a"
    base_path: "/old/a"
    model_platform: "tensorflow"
    model_version_policy { latest { num_versions: 2 } }
  }
}
"""


def test_models_config_keeps_what_others_wrote(tmp_path):
    """Read and written as the ModelServerConfig proto: another model's entry and this
    model's own extra fields survive an export; a file that is not one refuses the export."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    from kseg.serving.saved_model import write_models_config

    path = tmp_path / "models.config"
    path.write_text(HAND_WRITTEN)
    write_models_config(str(tmp_path), "a")
    write_models_config(str(tmp_path), "b", serving_root="/srv/models/")
    written = text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())
    expected = text_format.Parse(HAND_WRITTEN, model_server_config_pb2.ModelServerConfig())
    expected.model_config_list.config[1].base_path = "/models/a"
    expected.model_config_list.config.add(name="b", base_path="/srv/models/b", model_platform="tensorflow")
    assert written == expected
    assert read_models_config(str(path)) == {"mine": "/srv/mine", "a": "/models/a", "b": "/srv/models/b"}


def test_a_broken_models_config_or_an_escaping_name_refuses_the_export(small_net, tmp_path):
    (tmp_path / "models.config").write_text("model_config_list { config { name: ")
    with pytest.raises(ExportError, match=r"models.config is not a TF Serving ModelServerConfig text proto"):
        export_saved_model(small_net, str(tmp_path), "pan")
    assert sorted(os.listdir(tmp_path)) == ["models.config"]  # nothing written
    for name in ["..", ".hidden", "a/b"]:
        with pytest.raises(ExportError, match=r"Expected a model name .* not starting with '.'"):
            export_saved_model(small_net, str(tmp_path / "out"), name)


def test_versions_increment_never_overwrite_and_config_keeps_other_models(small_net, tmp_path):
    model = small_net
    out = str(tmp_path)
    assert export_saved_model(model, out, "a").endswith(os.path.join("a", "1"))
    assert export_saved_model(model, out, "a", include_probabilities=False).endswith(os.path.join("a", "2"))
    export_saved_model(model, out, "b", version=7, serving_root="/srv/models/")
    assert read_models_config(os.path.join(out, "models.config")) == {"a": "/models/a", "b": "/srv/models/b"}
    with pytest.raises(ExportError, match=r"a/2 already exists; choose another --version or pass --overwrite"):
        export_saved_model(model, out, "a", version=2)
    stamp = os.path.getmtime(os.path.join(out, "a", "2", "saved_model.pb"))
    export_saved_model(model, out, "a", version=2, overwrite=True)
    assert os.path.getmtime(os.path.join(out, "a", "2", "saved_model.pb")) >= stamp
    assert sorted(os.listdir(os.path.join(out, "a"))) == ["1", "2"]
    with pytest.raises(ExportError, match="positive integer version"):
        export_saved_model(model, out, "a", version=0)
    with pytest.raises(ExportError, match="model name of letters"):
        export_saved_model(model, out, "a/b")


def test_failed_write_leaves_no_version(small_net, tmp_path, monkeypatch):
    model = small_net
    from kseg.serving import saved_model

    class BrokenArchive:
        def write_out(self, filepath):
            os.makedirs(filepath)
            open(os.path.join(filepath, "saved_model.pb"), "w").close()  # half-written
            raise OSError("disk full")

    monkeypatch.setattr(saved_model, "build_archive", lambda *args, **kwargs: BrokenArchive())
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(model, str(tmp_path), "pan")
    assert os.listdir(tmp_path / "pan") == []  # no version, no staging folder left behind


def test_session_loader_like_tf_serving_on_jpeg_bytes(exported, tiny_pan):
    """The loading path of tensorflow_model_server: SavedModelBundle + SignatureDef tensor names."""
    images = [photo(75, 100), photo(64, 121, "PNG")]
    with tf.compat.v1.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], exported)
        signature = meta.signature_def["serving_default"]
        assert set(signature.inputs) == {"images"} and signature.inputs["images"].dtype == tf.string.as_datatype_enum
        assert set(signature.outputs) == {"labels", "probabilities", "image_shape"}
        assert signature.outputs["labels"].dtype == tf.int32.as_datatype_enum
        fetches = {k: v.name for k, v in signature.outputs.items()}
        got = session.run(fetches, {signature.inputs["images"].name: images})

    want_probs, want_labels = _reference(tiny_pan, [decoded(b) for b in images])
    assert got["labels"].shape == (2, 75, 121) and got["probabilities"].shape == (2, 75, 121, 5)
    np.testing.assert_array_equal(got["image_shape"], [[75, 100], [64, 121]])
    for i, (h, w) in enumerate(got["image_shape"]):
        np.testing.assert_array_equal(got["labels"][i, :h, :w], want_labels[i])
        np.testing.assert_allclose(got["probabilities"][i, :h, :w], want_probs[i], atol=TINY_PAN_ATOL)
        assert (got["labels"][i, h:] == PAD_LABEL).all() and (got["labels"][i, :, w:] == PAD_LABEL).all()
        assert (got["probabilities"][i, h:] == 0).all()
    assert len(np.unique(got["labels"][0, :75, :100])) > 1, "the test model predicts more than one class"


@pytest.mark.parametrize("batch", [1, 3])
def test_reloaded_signatures_batch_sizes(exported, tiny_pan, batch):
    loaded = tf.saved_model.load(exported)
    images = [photo(48 + 8 * i, 64) for i in range(batch)]
    out = loaded.signatures["serving_default"](images=tf.constant(images))
    want_probs, want_labels = _reference(tiny_pan, [decoded(b) for b in images])
    for i in range(batch):
        h = 48 + 8 * i
        np.testing.assert_array_equal(out["labels"][i, :h].numpy(), want_labels[i])
    tensor = np.stack([decoded(photo(56, 72))] * batch)
    out = loaded.signatures["predict_tensor"](images=tf.constant(tensor))
    np.testing.assert_allclose(
        out["probabilities"].numpy(), tf.nn.softmax(tiny_pan(tensor)).numpy(), atol=TINY_PAN_ATOL
    )
    assert out["labels"].dtype == tf.int32 and out["labels"].shape == (batch, 56, 72)


def test_bad_bytes_fail_that_call_only(exported):
    serve = tf.saved_model.load(exported).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images\[0\]: not a JPEG, PNG, GIF or BMP image"):
        serve(images=tf.constant([b"this is not an image"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images\[1\]: not a JPEG, PNG, GIF or BMP image \(3 bytes\)"):
        serve(images=tf.constant([photo(40, 40), b"abc", photo(40, 40)]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="images: an empty batch; send at least one image"):
        serve(images=tf.constant([], tf.string))
    tensor = tf.saved_model.load(exported).signatures["predict_tensor"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="images: an empty batch"):
        tensor(images=tf.zeros([0, 8, 8, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images\[1\]: a JPEG without a frame header \(200 bytes"):
        serve(images=tf.constant([photo(40, 40), photo(40, 40)[:200]]))  # truncated JPEG
    assert serve(images=tf.constant([photo(40, 52)]))["labels"].shape == (1, 40, 52)


def _with_jpeg_size(data, height, width):
    """JPEG bytes whose frame header (SOF0) claims another size: what a huge photo's header says."""
    at = data.index(b"\xff\xc0") + 5  # marker, length (2), precision (1), then height, width
    return data[:at] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + data[at + 4:]


def _png_header(height, width):
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + len(ihdr).to_bytes(4, "big") + b"IHDR" + ihdr + b"\0" * 4


def test_header_dimensions_without_decoding():
    from kseg.serving.graph import encoded_image_shape

    assert encoded_image_shape(tf.constant(photo(37, 53)), 0).numpy().tolist() == [37, 53]
    assert encoded_image_shape(tf.constant(photo(37, 53, fmt="PNG")), 0).numpy().tolist() == [37, 53]
    assert encoded_image_shape(tf.constant(photo(37, 53, fmt="BMP")), 0).numpy().tolist() == [37, 53]
    assert encoded_image_shape(tf.constant(photo(37, 53, fmt="GIF")), 0).numpy().tolist() == [37, 53]
    assert encoded_image_shape(tf.constant(_with_jpeg_size(photo(16, 16), 6000, 9000)), 0).numpy().tolist() == [6000, 9000]


def test_size_policy_caps_pixels_before_decoding_and_downscales_long_sides(small_net, tmp_path):
    path = export_saved_model(small_net, str(tmp_path), "pan", max_side=64, max_pixels=100 * 150)
    loaded = tf.saved_model.load(path)
    serve = loaded.signatures["serving_default"]
    # A photo whose header says 9000x6000 (54 MP) is refused from its header: its body
    # is a 16x16 image, so decoding it would not even fail.
    huge = _with_jpeg_size(photo(16, 16), 6000, 9000)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images\[1\]: 9000x6000 is 54000000 pixels, more than the 15000"):
        serve(images=tf.constant([photo(40, 40), huge]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images\[0\]: 200x100 is 20000 pixels"):
        serve(images=tf.constant([_png_header(100, 200)]))
    # 100x150 (longer side over 64): the network sees 43x64, labels come back at 100x150.
    data = photo(100, 150)
    out = serve(images=tf.constant([data]))
    assert out["labels"].shape == (1, 100, 150)
    small = tf.image.resize(decoded(data)[None], (43, 64), method="bilinear")
    logits = tf.image.resize(small_net(small), (100, 150), method="bilinear")
    np.testing.assert_array_equal(out["labels"].numpy(), tf.argmax(logits, -1).numpy())
    np.testing.assert_allclose(out["probabilities"].numpy(), tf.nn.softmax(logits).numpy(), atol=1e-5)
    # Under the limit: the image's own size, as without a policy.
    out = loaded.signatures["predict_tensor"](images=tf.constant(decoded(photo(40, 60))[None]))
    np.testing.assert_allclose(out["probabilities"].numpy(), tf.nn.softmax(small_net(decoded(photo(40, 60))[None])).numpy(), atol=1e-5)


def test_fixed_size_crf_and_labels_only(small_net, tmp_path):
    import kseg

    model = small_net
    path = export_saved_model(model, str(tmp_path), "pan", size=(64, 64), crf="conv", include_probabilities=False)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    data = photo(50, 90)
    out = serve(images=tf.constant([data]))
    assert set(out) == {"labels", "image_shape"} and out["labels"].shape == (1, 50, 90)
    image = decoded(data)[None]
    logits = tf.image.resize(model(tf.image.resize(image, (64, 64))), (50, 90))
    want = kseg.inference.refine(logits, image, crf="conv").numpy().argmax(-1)
    np.testing.assert_array_equal(out["labels"].numpy(), want)


def test_saved_model_cli_shows_and_runs_the_signatures(exported, tmp_path):
    show = subprocess.run(
        [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir", exported, "--all"],
        capture_output=True, text=True, timeout=300,
    )
    assert show.returncode == 0, show.stderr[-2000:]
    for text in ("signature_def['serving_default']", "signature_def['predict_tensor']", "inputs['images']",
                 "outputs['labels']", "outputs['probabilities']", "outputs['image_shape']", "dtype: DT_STRING"):
        assert text in show.stdout
    inputs = tmp_path / "images.npy"
    np.save(inputs, np.array([photo(32, 40)], dtype="S"))
    run = subprocess.run(
        [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "run", "--dir", exported, "--tag_set", "serve",
         "--signature_def", "serving_default", "--inputs", f"images={inputs}", "--outdir", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert np.load(tmp_path / "out" / "labels.npy").shape == (1, 32, 40)


def _modes(root):
    import stat

    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = stat.S_IMODE(os.stat(path).st_mode)
    return found


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_exports_get_the_permissions_of_an_ordinary_write(small_net, tmp_path, umask):
    """A TF Serving container running as another user must be able to read the export:
    files 0666 and folders 0777 less the umask, as `open` and `mkdir` give (not the 0600 /
    0700 of tempfile's staging)."""
    old = os.umask(umask)
    try:
        out = str(tmp_path / "serving")
        export_saved_model(small_net, out, "pan", version=3)
    finally:
        os.umask(old)
    modes = _modes(out)
    assert "models.config" in modes and os.path.join("pan", "3", "saved_model.pb") in modes
    for name, mode in modes.items():
        expected = 0o777 & ~umask if os.path.isdir(os.path.join(out, name)) else 0o666 & ~umask
        assert mode == expected, f"{name}: {oct(mode)} instead of {oct(expected)}"


def test_an_interrupted_export_leaves_no_litter_after_the_next(small_net, tmp_path):
    from kseg.atomic import staging_name

    out = str(tmp_path)
    export_saved_model(small_net, out, "pan", version=1)
    legacy = os.path.join(out, "pan", ".tmp-2-abc123")  # kseg 0.1's mkdtemp staging
    os.makedirs(os.path.join(legacy, "model", "variables"))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = staging_name(os.path.join(out, "pan", "2")).replace(f"tmp-{os.getpid()}@", f"tmp-{dead.stdout.strip()}@")
    os.makedirs(orphan)
    mine = staging_name(os.path.join(out, "pan", "9"))  # a writer still running (this process)
    os.makedirs(mine)
    export_saved_model(small_net, out, "pan", version=2)
    assert sorted(os.listdir(os.path.join(out, "pan"))) == sorted(["1", "2", os.path.basename(mine)])


def _strip(height, width):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_request_cannot_pad_to_more_pixels_than_one_image_may_have(small_net, tmp_path):
    """Two ~100-byte strips, 1x12000 and 12000x1, would be answered in a 2x12000x12000 canvas
    (labels and probabilities: 4.4 GB): refused from their headers before any decoding."""
    import resource

    serve = tf.saved_model.load(export_saved_model(small_net, str(tmp_path), "pan")).signatures["serving_default"]
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"images: 2 images padded to the largest height 12000 and width 12000 are 288000000 pixels, "
        r"more than the 50000000 a request may hold \(export --max-pixels\)",
    ):
        serve(images=tf.constant([_strip(1, 12000), _strip(12000, 1)]))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb < 1024 * 1024  # under 1 GB more at peak
    # a header whose width x height overflows int64 is refused by its sides
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images\[0\]: 4294967295x4294967295 is 1.8\d*e\+19 pixels"):
        serve(images=tf.constant([_png_header(2**32 - 1, 2**32 - 1)]))
    # mixed sizes within the bound: each image's labels at its own size, in the padded canvas
    out = serve(images=tf.constant([_strip(3, 200), _strip(150, 2)]))
    assert out["labels"].shape == (2, 150, 200) and out["image_shape"].numpy().tolist() == [[3, 200], [150, 2]]
    assert (out["labels"].numpy()[0, 3:] == 255).all() and (out["labels"].numpy()[1, :, 2:] == 255).all()


def test_an_export_to_a_url_uploads_the_graph_last_and_serves_like_a_local_one(small_net, tmp_path, monkeypatch):
    # A TF Serving that polls a bucket: object stores have no folder rename, so the version is
    # uploaded under a hidden prefix, then copied in with saved_model.pb last (kseg.serving.upload)
    out = f"ram://{tmp_path.name}/models"
    copied, copy = [], tf.io.gfile.copy
    monkeypatch.setattr(tf.io.gfile, "copy", lambda source, target, overwrite=False: (
        copied.append(target), copy(source, target, overwrite=overwrite))[1])
    path = export_saved_model(small_net, out, "pan")
    assert path == f"{out}/pan/1"
    into_version = [target for target in copied if target.startswith(path + "/")]
    assert into_version[-1] == f"{path}/saved_model.pb" and f"{path}/variables/variables.index" in into_version
    assert len(into_version) == len(copied) / 2  # each file: to the staging prefix, then into the version
    assert [name.rstrip("/") for name in tf.io.gfile.listdir(f"{out}/pan")] == ["1"]  # the staging prefix is gone
    assert read_models_config(f"{out}/models.config") == {"pan": f"{out}/pan"}  # the server reads the bucket

    local = export_saved_model(small_net, str(tmp_path), "pan")
    images = tf.constant(np.random.default_rng(0).uniform(0, 255, (1, 24, 20, 3)).astype("float32"))
    remote_labels = tf.saved_model.load(path).signatures["predict_tensor"](images=images)["labels"]
    np.testing.assert_array_equal(remote_labels, tf.saved_model.load(local).signatures["predict_tensor"](images=images)["labels"])

    assert export_saved_model(small_net, out, "pan", serving_root="/srv/models") == f"{out}/pan/2"
    assert read_models_config(f"{out}/models.config") == {"pan": "/srv/models/pan"}
    with pytest.raises(ExportError, match=r"/pan/1 already exists; choose another --version or pass --overwrite"):
        export_saved_model(small_net, out, "pan", version=1)
