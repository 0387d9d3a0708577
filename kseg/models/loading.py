"""Loading a trained model for evaluation or deployment: a training run folder or a `.keras` file."""

import os

from kseg.run_folder import RunFolder


def resolve_model_path(path):
    """`<run dir>` -> `<run dir>/model.keras`; a `.keras` file as is. Raises FileNotFoundError
    naming what was looked for."""
    if os.path.isdir(path):
        candidate = RunFolder(path).model
        if not os.path.isfile(candidate):
            raise FileNotFoundError(f"{path} is a folder without model.keras (is it a finished training run?)")
        return candidate
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such model: {path}")
    if not path.endswith(".keras"):
        raise ValueError(f"expected a .keras file or a training run folder. Received: {path}")
    return path


class ModelFileError(ValueError):
    """A file given as a `.keras` model that is not one."""


def check_keras_file(path):
    """Raise a `ModelFileError` naming `path`, an existing file, unless it can be a `.keras` model
    (a zip archive: not a copy cut short, nor another kind of file renamed). Returns `path`."""
    import zipfile

    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not a .keras file (not a zip archive: truncated, or another kind of file)")
    return path


def load_keras_file(path):
    """`keras.saving.load_model(path, compile=False)` of an existing `.keras` file, after
    `check_keras_file` (Keras would report a file that is not one as not found)."""
    import keras

    return keras.saving.load_model(check_keras_file(path), compile=False)


def load_inference_model(path, precision="float32"):
    """The segmentation network saved in a run folder or a `.keras` file: its
    `inference_model()` (a GAN's generator, RelationNet without its training heads),
    without compile state, computing in `precision` (see `with_precision`)."""
    from kseg.models.common import inference_model  # importing kseg.models registers the kseg classes

    return with_precision(inference_model(load_keras_file(resolve_model_path(path))), precision)


def with_precision(model, precision):
    """`model` computing in `precision`: "float32" or "bfloat16" (Keras' `mixed_bfloat16`
    policy: variables stay float32, convolutions and matmuls run in bfloat16 -- on CPUs with
    AMX or AVX-512 BF16 and on GPUs several times faster -- and the serving and test-time
    code casts the outputs back to float32; CRFs run in float32). A model already in that
    policy is returned as is; otherwise a copy is rebuilt under it with the same weights
    (so a model trained under mixed_bfloat16 runs in float32 when asked)."""
    import keras

    from kseg.constants import INFERENCE_PRECISIONS

    if precision not in INFERENCE_PRECISIONS:
        raise ValueError(f"precision must be one of {list(INFERENCE_PRECISIONS)}. Received: precision={precision!r}")
    policy = "float32" if precision == "float32" else f"mixed_{precision}"
    if model.dtype_policy.name == policy:
        return model
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:  # kseg models rebuild from their constructor arguments under the global policy
        copy = model.__class__.from_config(_with_policy(model.get_config(), policy))
    finally:
        keras.config.set_dtype_policy(previous)
    copy.set_weights(model.get_weights())
    if copy.compute_dtype != precision:
        raise ValueError(f"{model.name} cannot be rebuilt to compute in {precision}")
    return copy


_FLOAT_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


def _with_policy(config, policy):
    """`config` with every floating layer dtype policy replaced by `policy` (functional
    models' configs name each layer's policy; constructor configs name none)."""
    if isinstance(config, list):
        return [_with_policy(v, policy) for v in config]
    if not isinstance(config, dict):
        return config
    if config.get("class_name") == "DTypePolicy" and config.get("config", {}).get("name") in _FLOAT_POLICIES:
        return dict(config, config=dict(config["config"], name=policy))
    return {k: _with_policy(v, policy) for k, v in config.items()}
