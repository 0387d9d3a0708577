"""Fine-tuning from another run (`train.init_from`): every array of the source whose
variable path and shape match one of the new model's is copied; the rest keep their
initialisation (a classifier for another class list, the parts another architecture lacks).

The source is a run folder (its `model.keras`; a run still in progress: its newest
checkpoint, restored into the model its `config.yaml` builds), a `.keras` file, or one
checkpoint of a run (`<run>/checkpoints/ckpt-N`), local or at a URL (`gs://...`: a model is
fetched, `kseg.remote_inputs`; a checkpoint is read where it is).
"""

import collections
import os

from kseg.output_paths import url_scheme
from kseg.run_folder import RunFolder


class InitFromError(ValueError):
    """A `train.init_from` (or `train.init_weights`) source that cannot be read or matches nothing."""


def _from_checkpoint(run_dir, prefix):
    import tensorflow as tf

    from kseg.training.checkpoint import complete_checkpoint
    from kseg.training.config import load_config
    from kseg.training.tasks import get_task

    config_path = RunFolder(run_dir).config
    if not tf.io.gfile.exists(config_path):
        raise InitFromError(f"train.init_from: {prefix} is a checkpoint without its run's config.yaml ({config_path})")
    if url_scheme(config_path):
        from kseg.remote_inputs import fetch

        config_path = fetch(config_path)
    model = get_task(load_config(config_path, ["model.backbone_weights=null"])).build_model()
    complete_checkpoint(model=model).restore(prefix).expect_partial()
    return model


def load_source(spec):
    """The model `spec` (a run folder, a `.keras` file or a checkpoint prefix, local or a URL) names."""
    import tensorflow as tf

    if url_scheme(spec):
        spec = spec.rstrip("/")
    with _named_read_errors("train.init_from", spec):
        if tf.io.gfile.exists(spec + ".index"):
            run = spec.rsplit("/", 2)[0] if url_scheme(spec) else os.path.dirname(os.path.dirname(os.path.abspath(spec)))
            return _from_checkpoint(run, spec)
        if tf.io.gfile.isdir(spec):
            folder = RunFolder(spec)
            if tf.io.gfile.exists(folder.model):
                return load_model_for("train.init_from", folder.model)
            latest = tf.train.latest_checkpoint(folder.checkpoints)
            if latest is None:
                raise InitFromError(f"train.init_from: {spec} holds neither a model.keras nor checkpoints/")
            return _from_checkpoint(spec, latest)
        if spec.endswith(".keras") and tf.io.gfile.exists(spec):
            return load_model_for("train.init_from", spec)
    raise InitFromError(f"train.init_from: {spec} is not a run folder, a .keras file or a checkpoint (<run>/checkpoints/ckpt-N)")


def _named_read_errors(key, spec):
    """TensorFlow's filesystem errors on `spec` (a bucket refusing) as one `InitFromError` line."""
    from kseg.remote_io import filesystem_errors_as

    return filesystem_errors_as(InitFromError, f"{key}: {spec}")


def load_model_for(key, path):
    """The `.keras` model at `path` (local, or a URL: fetched) for config key `key`; a file that
    is not one is an InitFromError, a missing one a FileNotFoundError, each naming `path`."""
    from kseg.models.loading import ModelFileError, load_keras_file

    local = path
    if url_scheme(path):
        from kseg.remote_inputs import fetch

        with _named_read_errors(key, path):
            try:
                local = fetch(path)
            except FileNotFoundError:
                raise FileNotFoundError(f"{key}: no such model: {path}") from None
    try:
        return load_keras_file(local)
    except ModelFileError as error:
        raise InitFromError(f"{key}: {str(error).replace(local, path)}") from None


def copy_matching(source, target):
    """Assign every variable of `target` the source variable of the same path and shape
    (paths repeated within a model are paired in order). Returns {"loaded": n, "total": n,
    "new": {layer path: (source shapes, target shapes)}} for what kept its initialisation."""
    by_path = collections.defaultdict(list)
    for variable in source.variables:
        by_path[variable.path].append(variable)
    seen = collections.Counter()
    loaded, new = 0, {}
    for variable in target.variables:
        candidates = by_path.get(variable.path, [])
        match = candidates[seen[variable.path]] if seen[variable.path] < len(candidates) else None
        seen[variable.path] += 1
        if match is not None and tuple(match.shape) == tuple(variable.shape):
            variable.assign(match.value)
            loaded += 1
            continue
        layer = variable.path.rsplit("/", 1)[0]
        before, after = new.get(layer, ([], []))
        new[layer] = (before + ([tuple(match.shape)] if match is not None else []), after + [tuple(variable.shape)])
    return {"loaded": loaded, "total": len(target.variables), "new": new}


def _describe(layer, shapes, num_classes):
    before, after = shapes
    if not before:
        return layer
    source, target = before[0][-1], after[0][-1]
    unit = "classes" if target == num_classes else "outputs"
    return f"{layer} ({source} -> {target} {unit})"


def initialise_from(model, spec, num_classes):
    """Copy `spec`'s matching arrays into `model` and print one line saying what was loaded
    and what is new; an `InitFromError` when nothing matches. Returns the report."""
    report = copy_matching(load_source(spec), model)
    if report["loaded"] == 0:
        paths = [v.path for v in model.variables[:2]]
        raise InitFromError(f"train.init_from: no array of {spec} matches this model's by path and shape (its paths look like {paths})")
    new = [_describe(layer, shapes, num_classes) for layer, shapes in report["new"].items()]
    listed = f"; new: {', '.join(new[:6])}{' ...' if len(new) > 6 else ''}" if new else ""
    print(f"loaded {report['loaded']} of {report['total']} arrays from {spec}{listed}", flush=True)
    return {"path": spec, "loaded": report["loaded"], "total": report["total"], "new": sorted(report["new"])}
