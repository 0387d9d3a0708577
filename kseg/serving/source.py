"""Finding the model to export: a training run folder or a `.keras` file."""

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


def load_model(path):
    """Load the segmentation network of a run folder or a `.keras` file (a GAN's generator,
    RelationNet without its training heads; compile state is not needed)."""
    import keras

    import kseg  # registers the kseg classes

    return kseg.models.segmentation_network(keras.saving.load_model(resolve_model_path(path), compile=False))
