"""Loading a trained model for evaluation or deployment: a training run folder or a `.keras` file."""

import os


def resolve_model_path(path):
    """`<run dir>` -> `<run dir>/model.keras`; a `.keras` file as is. Raises FileNotFoundError
    naming what was looked for."""
    if os.path.isdir(path):
        candidate = os.path.join(path, "model.keras")
        if not os.path.isfile(candidate):
            raise FileNotFoundError(f"{path} is a folder without model.keras (is it a finished training run?)")
        return candidate
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such model: {path}")
    if not path.endswith(".keras"):
        raise ValueError(f"expected a .keras file or a training run folder. Received: {path}")
    return path


def load_inference_model(path):
    """The segmentation network saved in a run folder or a `.keras` file: its
    `inference_model()` (a GAN's generator, RelationNet without its training heads),
    without compile state."""
    import keras

    from kseg.models.common import inference_model  # importing kseg.models registers the kseg classes

    return inference_model(keras.saving.load_model(resolve_model_path(path), compile=False))
