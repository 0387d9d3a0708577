"""The training configuration's schema: one dataclass per section, each field with its
default, its check (type, range or choices) and what it means.

`DEFAULTS` is the schema's defaults as the nested dict recipes override;
`check_types(config)` runs before any data or model work, and a wrong value is a one-line
`ConfigError` naming the key, what it must be, and what it is (the checks: `checks.py`).
`reference()` renders the schema as the Markdown table in docs/configuration.md.
"""

import dataclasses

from kseg import constants
from kseg.models.registry import family_sections
from kseg.training import preset
from kseg.training.checks import (  # noqa: F401  (ConfigError re-exported)
    ConfigError, boolean, choice, class_names, class_weights, entry, fraction, fractions, integer, label_map,
    loss_expression, mapping, multipliers, non_negative, number, optional, pair, palette, path_component, positive, square_or_pair,
    split_names, text,
)


@dataclasses.dataclass
class ModelSection:
    architecture: str = entry(preset.ARCHITECTURE, text, "the model family: a task registered in kseg.training.tasks.TASKS")
    backbone: str = entry(preset.BACKBONE, text, "a backbone name the architecture takes (kseg.backbones.BACKBONES)")
    output_stride: int = entry(16, integer(choices=constants.OUTPUT_STRIDES), "the backbone's output stride, by dilation")
    backbone_weights: str = entry(None, optional(text), "null | imagenet | a weight file")
    batch_norm: str = entry(
        "train", choice(constants.BATCH_NORM_POLICIES),
        "train: statistics per replica; frozen: the backbone's BN fixed, in inference mode (DeepLab v2); sync: cross-replica",
    )
    options: dict = entry(
        {"decoder_filters": preset.DECODER_FILTERS, "backbone_options": dict(preset.BACKBONE_OPTIONS)}, mapping,
        "further constructor arguments of the architecture's model; dropped when --set changes model.architecture (backbone_options: model.backbone)",
    )


@dataclasses.dataclass
class DataSection:
    format: str = entry("builtin", choice(constants.DATA_FORMATS), "the dataset layout")
    root: str = entry(None, optional(text), "the dataset folder (builtin: the cache or an empty folder when null)")
    num_classes: int = entry(None, optional(integer(low=2)), "classes, the ignore label 255 excluded (null: from class_names or the format)")
    class_names: list = entry(
        None, class_names, "a list, or a text file with one name a line (voc, folder: your own classes; null: the format's)"
    )
    palette: list = entry(None, palette, "null (the format's colours), voc, cityscapes, or one [r, g, b] per class")
    label_map: dict = entry(
        {}, label_map, "stored mask values -> training ids, over the format's table (e.g. {255: 1} for 0/255 binary masks)"
    )
    mask_colours: bool = entry(
        False, boolean, "masks are colour-coded RGB, each class in its data.palette colour (palette[255]: ignored)"
    )
    train_split: str = entry("train", split_names, "a split or a list of splits (their union)")
    val_split: str = entry("val", text, "the split evaluated at the end")
    val_limit: int = entry(None, optional(integer(low=1)), "evaluate only the validation split's first images (null: all)")
    annotation: str = entry("gtFine", choice(constants.CITYSCAPES_ANNOTATIONS), "Cityscapes labels for training")
    crop: list = entry([96, 96], square_or_pair(integer(low=1), "height, width: positive integers"), "training crop [h, w] (one number: a square)")
    scale: list = entry([0.75, 1.5], optional(pair(positive, "low, high: positive numbers")), "random scaling range, or null")
    flip: bool = entry(True, boolean, "random left-right flips")
    photometric: bool = entry(False, boolean, "brightness, contrast, saturation and hue jitter in random order (mmseg's ranges)")
    blur: float = entry(0.0, fraction, "probability of a Gaussian blur (sigma 0.1-2.0) after the photometric jitter")
    batch_size: int = entry(8, integer(low=1), "the global batch")
    seed: int = entry(0, optional(integer()), "augmentation and shuffling seed (null: nondeterministic)")
    service: str = entry(
        None, optional(text), "grpc://host:port of a tf.data service dispatcher running the training input (records only; null: in process)"
    )
    skip_bad_examples: bool = entry(False, boolean, "log and skip unreadable or inconsistent files")
    max_bad_fraction: float = entry(0.1, number(0, 1), "with skip_bad_examples: stop when more of a split is bad")


@dataclasses.dataclass
class OptimizerSection:
    name: str = entry("sgd", choice(constants.OPTIMIZERS), "sgd (the papers') or adamw")
    learning_rate: float = entry(0.1, non_negative, "initial rate (0: weights stay, BN statistics still update)")
    schedule: str = entry("poly", choice(constants.SCHEDULES), "poly (the papers'), cosine (to end_learning_rate) or step")
    warmup_steps: int = entry(100, integer(low=0), "linear warmup from 0 over these first steps, in front of the schedule")
    power: float = entry(0.9, positive, "poly schedule power; 1 is linear")
    end_learning_rate: float = entry(0.0, non_negative, "the rate the poly and cosine schedules end at")
    hold_fraction: float = entry(0.0, fraction, "poly: share of the steps at the initial rate before the decay")
    step_milestones: list = entry([0.5, 0.75], fractions, "step: where the rate drops, as shares of the steps")
    step_gamma: float = entry(0.1, number(0, 1, low_open=True), "step: the factor at each milestone")
    momentum: float = entry(0.9, fraction, "SGD momentum")
    nesterov: bool = entry(False, boolean, "Nesterov momentum")
    weight_decay: float = entry(
        1e-4, non_negative, "sgd: the papers' L2 term, coupled (CoupledWeightDecaySGD); adamw: the decoupled decay (e.g. 0.01)"
    )
    lr_multipliers: dict = entry(
        {}, multipliers, "learning-rate factor of the variables whose path matches each regex (DeepLab: classifier 10x)"
    )


@dataclasses.dataclass
class TrainSection:
    steps: int = entry(2400, optional(integer(low=1)), "optimizer steps, or null with epochs")
    epochs: float = entry(None, optional(positive), "passes over the training split, converted to steps")
    init_weights: str = entry(None, optional(text), "a .keras model of the same architecture to start from (layers matched by name, shapes must agree), local or a URL")
    init_from: str = entry(
        None, optional(text), "fine-tune from a run folder, .keras file or checkpoint, local or a URL: every array whose path and shape match (other classes, other heads)"
    )
    checkpoint_every: int = entry(300, integer(low=1), "steps between checkpoints")
    eval_every: int = entry(
        None, optional(integer(low=1)), "steps between validations (val mIoU, best/model.keras); null: only at the end"
    )
    loss: str = entry("cross_entropy + dice", loss_expression, "the segmentation loss: a name, or a weighted sum of them")
    class_weights: list = entry(
        None, class_weights,
        "per-class weights of the cross_entropy, ohem and focal terms, or computed from the training labels (SegNet's median frequency)"
    )
    label_smoothing: float = entry(0.0, fraction, "cross_entropy: the smoothed target (1 - e) onehot + e / classes")
    ohem_threshold: float = entry(0.6, number(0, 1, low_open=True), "OHEM: keep pixels below this probability (RelationNet eq. 3)")
    ohem_min_kept: int = entry(100000, integer(low=0), "OHEM: keep at least this many pixels")
    focal_gamma: float = entry(2.0, non_negative, "focal: the focusing parameter (Lin et al. eq. 5); its alpha is train.class_weights")
    tversky_alpha: float = entry(0.3, non_negative, "tversky: weight of false positives (Salehi et al. eq. 3)")
    tversky_beta: float = entry(0.7, non_negative, "tversky: weight of false negatives (0.5 and 0.5: Dice)")
    loss_resolution: str = entry(
        "input", choice(constants.LOSS_RESOLUTIONS),
        "deeplabv2: logits upsampled to the crop, or labels subsampled to the output stride (§4)",
    )
    precision: str = entry(
        "auto", choice(constants.PRECISIONS), "the Keras dtype policy; auto: mixed_bfloat16 where the hardware has bfloat16 units, else float32"
    )
    jit_compile: bool = entry(False, boolean, "XLA-compile the train step")
    steps_per_execution: int = entry(
        10, integer(low=1),
        "train steps per call into the compiled graph (fewer Python round trips; reduced to divide every checkpoint chunk)",
    )
    strategy: str = entry("default", choice(constants.STRATEGIES), "tf.distribute strategy; multi_worker reads TF_CONFIG")
    seed: int = entry(0, integer(), "weight initialisation seed")


@dataclasses.dataclass
class ExportSection:
    saved_model: bool = entry(True, boolean, "<run>/serving/<name>/<steps>/ for TF Serving (+ models.config)")
    onnx: bool = entry(True, boolean, "<run>/model.onnx, checked with ONNX Runtime")
    name: str = entry(None, optional(path_component), "the served model's name (null: the run's name)")
    model: str = entry("last", choice(constants.EXPORT_MODELS), "export the last weights, or the best by val mIoU (needs train.eval_every)")
    crf: str = entry(None, choice((None,) + constants.CRF_NAMES), "null | dense | conv: a CRF inside the exported graphs")
    max_side: int = entry(constants.MAX_SIDE, optional(integer(low=1)), "SavedModel: longer image sides run downscaled to this")
    max_pixels: int = entry(constants.MAX_PIXELS, optional(integer(low=1)), "SavedModel: larger images are refused before decoding")


# section name -> schema: the common sections, then each family's own (`kseg/models/<family>/config.py`,
# named by its task's SECTIONS), then export
SECTIONS = {
    "model": ModelSection,
    "data": DataSection,
    "optimizer": OptimizerSection,
    "train": TrainSection,
    **family_sections(),
    "export": ExportSection,
}
# Keys that only mean something for some values of another key: set away from their default
# otherwise, they would be ignored, so they are refused (`check_dependent_keys`).
APPLIES_ONLY = {
    "optimizer.power": ("optimizer.schedule", ("poly",)),
    "optimizer.hold_fraction": ("optimizer.schedule", ("poly",)),
    "optimizer.step_milestones": ("optimizer.schedule", ("step",)),
    "optimizer.step_gamma": ("optimizer.schedule", ("step",)),
    "optimizer.momentum": ("optimizer.name", ("sgd",)),
    "optimizer.nesterov": ("optimizer.name", ("sgd",)),
    "data.blur": ("data.photometric", (True,)),
    "data.mask_colours": ("data.format", ("voc", "folder")),
}
# The train keys of one term of `train.loss`, refused when the loss has no such term.
LOSS_TERM_KEYS = {
    "label_smoothing": "cross_entropy",
    "ohem_threshold": "ohem",
    "ohem_min_kept": "ohem",
    "focal_gamma": "focal",
    "tversky_alpha": "tversky",
    "tversky_beta": "tversky",
}


def check_dependent_keys(config):
    """Refuse a key of `APPLIES_ONLY` set while the key it depends on makes it meaningless,
    and a key of `LOSS_TERM_KEYS` set while `train.loss` has no term it applies to."""
    for key, (governing, values) in APPLIES_ONLY.items():
        section, name = key.split(".")
        other_section, other = governing.split(".")
        if config[section][name] != DEFAULTS[section][name] and config[other_section][other] not in values:
            raise ConfigError(
                f"{key}={_shown(config[section][name])} is not used with {governing}={_shown(config[other_section][other])} "
                f"(only with {' or '.join(_shown(value, quote=False) for value in values)})"
            )
    from kseg.losses.combined import parse_loss_expression

    terms = {name for _, name in parse_loss_expression(config["train"]["loss"])}
    for name, term in LOSS_TERM_KEYS.items():
        if config["train"][name] != DEFAULTS["train"][name] and term not in terms:
            raise ConfigError(
                f"train.{name}={config['train'][name]!r} is not used: train.loss={config['train']['loss']!r} has no {term} term"
            )


def _shown(value, quote=True):
    """`value` as a message shows it: booleans as YAML writes them, strings quoted unless `quote=False`."""
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if quote or not isinstance(value, str) else value


def check_warmup(warmup_steps, steps):
    """Refuses a warmup as long as the run: its learning rate would never leave the warmup."""
    if warmup_steps and warmup_steps >= steps:
        raise ConfigError(
            f"optimizer.warmup_steps={warmup_steps} is not below the run's {steps} training steps: the learning "
            "rate would never leave its warmup; set optimizer.warmup_steps=0 or fewer than the steps"
        )


# Keys whose value is a mapping of the user's own keys (not sections of the schema).
FREE_MAPPINGS = {
    f"{section}.{field.name}"
    for section, schema in SECTIONS.items()
    for field in dataclasses.fields(schema)
    if field.metadata["check"] in (mapping, multipliers, label_map)
}
NAME = entry("builtin_pan", path_component, "the run's name: runs/<name>, the served model's default name (unset: <data.format>_<model.architecture>)")

DEFAULTS = {
    "name": NAME.default,
    **{section: dataclasses.asdict(schema()) for section, schema in SECTIONS.items()},
    "stages": [],  # optional list of override mappings, trained in turn (see kseg.training.config)
}


def check_types(config):
    """Check (and normalise: numeric strings to numbers) every leaf key in place."""
    config["name"] = NAME.metadata["check"]("name", config["name"])
    for section, schema in SECTIONS.items():
        for field in dataclasses.fields(schema):
            key = f"{section}.{field.name}"
            config[section][field.name] = field.metadata["check"](key, config[section][field.name])
    return config


def reference():
    """The schema as Markdown: one table row per key with its default and meaning."""
    def cell(text):
        return str(text).replace("|", "\\|")

    def row(key, default, field_metadata):
        check = field_metadata["check"]
        return f"| `{key}` | `{default}` | {cell(check.expected)} | {cell(field_metadata['doc'])} |"

    rows = ["| key | default | must be | meaning |", "|---|---|---|---|", row("name", NAME.default, NAME.metadata)]
    for section, schema in SECTIONS.items():
        for field in dataclasses.fields(schema):
            default = field.default_factory() if field.default is dataclasses.MISSING else field.default
            default = "null" if default is None else str(default).replace("True", "true").replace("False", "false")
            rows.append(row(f"{section}.{field.name}", default, field.metadata))
    return "\n".join(rows) + "\n"
