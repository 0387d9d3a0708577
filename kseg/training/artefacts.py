"""What a finished run leaves behind besides checkpoints: `.keras` models, the SavedModel
for TF Serving and the ONNX file, each written atomically."""

import os

import keras

from kseg.atomic import atomic_path
from kseg.run_folder import RunFolder


def save_model_atomically(model, path):
    """Write `path` (.keras) under a staging name in the same folder, then rename."""
    with atomic_path(path) as tmp:
        try:
            model.save(tmp + ".keras")  # Keras insists on the extension
            os.replace(tmp + ".keras", tmp)
        finally:
            if os.path.exists(tmp + ".keras"):  # a failed save (full disk) leaves no staging file
                os.remove(tmp + ".keras")
    return path


def export_saved_model_of_run(model, config, run_dir, step, mirror=None):
    """The SavedModel the config's `export` section asks for, at `<run>/serving/<name>/<step>/`
    (the step is the version, so re-running a finished job rewrites the same version). In a
    run folder in a bucket (`mirror`, a `RunMirror`), models.config's `base_path` is the bucket's
    folder, which TF Serving reads directly; else `/models/<name>`."""
    from kseg.models.loading import with_precision
    from kseg.serving import export_saved_model
    from kseg.serving.labels import dataset_labels
    from kseg.training.config import dataset_spec

    options = config.export
    if not options.saved_model:
        return {}
    model = with_precision(model, "float32")  # as the ONNX export; `--precision bfloat16` is a choice
    path = export_saved_model(
        model, RunFolder(run_dir).serving, served_name(config), version=max(step, 1), crf=options.crf, overwrite=True,
        max_side=options.max_side, max_pixels=options.max_pixels,
        labels=dataset_labels(dataset_spec(config)),
        serving_root=mirror.to_url(RunFolder(run_dir).serving) if mirror is not None else None,
    )
    return {"saved_model": path}


def served_name(config):
    """The name a run's model is served under: `export.name`, else the run's `name`."""
    return config.export.name or config.name


def export_onnx_of_run(model_path, config, run_dir):
    """`<run>/model.onnx` from the saved `model_path`, converted and checked in a child
    process (see `kseg.serving.onnx_cli.export_in_subprocess`). A failed export is reported
    in the result and does not discard the trained model."""
    from kseg.serving.onnx_cli import export_in_subprocess

    result = export_in_subprocess(model_path, RunFolder(run_dir).onnx, crf=config.export.crf)
    if "error" in result:
        print(f"ONNX export failed: {result['error']}", flush=True)
    return result


def release_memory():
    """Hand the training state's memory back before a memory-hungry step (the ONNX export)."""
    import ctypes
    import gc

    keras.backend.clear_session()
    gc.collect()
    try:  # glibc keeps freed heap pages; give them back to the OS
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
