"""The training configuration's schema: one dataclass per section, each field with its
default, its check (type, range or choices) and what it means.

`DEFAULTS` is the schema's defaults as the nested dict recipes override;
`check_types(config)` runs before any data or model work, and a wrong value is a one-line
`ConfigError` naming the key, what it must be, and what it is (value and type). Numbers
given as strings are converted (YAML 1.1, which PyYAML reads, takes `1e8` for a string).
`reference()` renders the schema as the Markdown table in docs/configuration.md.
"""

import dataclasses
import math

from kseg import constants


class ConfigError(ValueError):
    """A recipe or override that does not fit the configuration schema."""


def _expects(text):
    """Decorator: the check's `expected` text, shown in the configuration reference."""

    def attach(check):
        check.expected = text
        return check

    return attach


def _describe(value):
    return f"{value!r} ({type(value).__name__})"


def _fail(key, expected, value):
    raise ConfigError(f"{key} must be {expected}. Received: {_describe(value)}")


def _number(key, value, expected):
    if isinstance(value, bool):
        _fail(key, expected, value)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            _fail(key, expected, value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return value
    _fail(key, f"{expected} (finite)", value)


def _integer(key, value, expected):
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        _fail(key, expected, value)
    return value


def _range_text(low, high, low_open, high_open):
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low == 0 and low_open:
        return "a positive number"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    return "a number"


def number(low=None, high=None, low_open=False, high_open=False):
    """A float (or int) in the given range; `*_open` excludes the bound."""
    expected = _range_text(low, high, low_open, high_open)

    @_expects(f"a number {expected}" if expected.startswith("in") else expected)
    def check(key, value):
        value = _number(key, value, f"a number {expected}" if expected.startswith("in") else expected)
        if (low is not None and (value < low or (low_open and value == low))) or (
            high is not None and (value > high or (high_open and value == high))
        ):
            _fail(key, expected, value)
        return value

    return check


def integer(low=None, choices=None):
    if choices:
        expected = f"one of {list(choices)}"
    else:
        expected = {None: "an integer", 0: "an integer >= 0", 1: "a positive integer"}.get(low, f"an integer >= {low}")

    @_expects(expected)
    def check(key, value):
        value = _integer(key, value, expected)
        if (low is not None and value < low) or (choices and value not in choices):
            _fail(key, expected, value)
        return value

    return check


def _accepting(expected, accepts):
    """A check passing the values `accepts(value)` is true for."""

    @_expects(expected)
    def check(key, value):
        if not accepts(value):
            _fail(key, expected, value)
        return value

    return check


boolean = _accepting("true or false", lambda value: isinstance(value, bool))
text = _accepting("a non-empty string", lambda value: isinstance(value, str) and bool(value))
# names that become a file or folder name (runs/<name>, serving/<name>/): one path component
path_component = _accepting(
    "a name without '/', '\\', or a leading '.'",
    lambda value: isinstance(value, str) and bool(value) and not value.startswith(".")
    and not any(c in value for c in "/\\\0"),
)
mapping = _accepting("a mapping", lambda value: isinstance(value, dict))


def optional(check):
    @_expects(f"{check.expected} or null")
    def check_optional(key, value):
        return None if value is None else check(key, value)

    return check_optional


def pair(check, what):
    """A list of two values, each passing `check`."""

    @_expects(f"[{what}]")
    def check_pair(key, value):
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            _fail(key, f"[{what}] (a list of two)", value)
        try:
            return [check(key, v) for v in value]
        except ConfigError:
            _fail(key, f"[{what}]", value)

    return check_pair


@_expects("an increasing list of numbers in (0, 1)")
def fractions(key, value):
    if (
        not isinstance(value, list) or not value or not all(_is_number(v) and 0 < v < 1 for v in value)
        or any(a >= b for a, b in zip(value, value[1:]))
    ):
        _fail(key, "an increasing list of numbers in (0, 1)", value)
    return [float(v) for v in value]


@_expects("a mapping {layer-path regex: factor >= 0}")
def multipliers(key, value):
    if not isinstance(value, dict):
        _fail(key, "a mapping {layer-path regex: factor >= 0}", value)
    return {str(pattern): number(0)(f"{key}.{pattern}", factor) for pattern, factor in value.items()}


@_expects("a mapping {stored value 0-255: training id 0-255}")
def label_map(key, value):
    def byte(v):
        return _is_number(v) and float(v).is_integer() and 0 <= v <= 255

    if not isinstance(value, dict) or not all(byte(k) and byte(v) for k, v in value.items()):
        _fail(key, "a mapping {stored value 0-255: training id 0-255}", value)
    return {int(k): int(v) for k, v in value.items()}


@_expects("a split name or a list of them")
def split_names(key, value):
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(n, str) and n for n in names):
        _fail(key, "a split name or a list of them", value)
    return value


_LOSS_EXPECTED = f"a loss or a weighted sum, e.g. cross_entropy + 0.5 * dice ({' | '.join(constants.SEGMENTATION_LOSSES)})"


@_expects(_LOSS_EXPECTED)
def loss_expression(key, value):
    from kseg.losses.combined import parse_loss_expression

    try:
        parse_loss_expression(value)
    except ValueError as error:
        raise ConfigError(f"{key}: {error}") from None
    return value


_WEIGHTS_EXPECTED = f"null, one number >= 0 per class, or {' | '.join(constants.CLASS_WEIGHTINGS)}"


@_expects(_WEIGHTS_EXPECTED)
def class_weights(key, value):
    if value is None or value in constants.CLASS_WEIGHTINGS:
        return value
    if not isinstance(value, list) or not value or not all(_is_number(w) and w >= 0 for w in value) or not any(value):
        _fail(key, _WEIGHTS_EXPECTED, value)
    return [float(w) for w in value]


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@_expects("null, a list of at least 2 names, or the path of a text file with one name a line")
def class_names(key, value):
    if value is None or (isinstance(value, str) and value):
        return value
    if not isinstance(value, list) or len(value) < 2 or not all(isinstance(n, str) and n.strip() for n in value):
        _fail(key, "null, a list of at least 2 names, or the path of a text file with one name a line", value)
    return value


_PALETTE_EXPECTED = f"null, {', '.join(constants.PALETTE_NAMES)}, or a list of [r, g, b] (integers 0-255), one per class"


@_expects(_PALETTE_EXPECTED)
def palette(key, value):
    if value is None or value in constants.PALETTE_NAMES:
        return value
    colour = lambda c: isinstance(c, list) and len(c) == 3 and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in c)  # noqa: E731
    if not isinstance(value, list) or len(value) < 2 or not all(colour(c) for c in value):
        _fail(key, _PALETTE_EXPECTED, value)
    return value


def choice(options):
    @_expects(" | ".join("null" if o is None else str(o) for o in options))
    def check(key, value):
        if value not in options:
            raise ConfigError(f"{key} must be one of {list(options)}. Received: {_describe(value)}")
        return value

    return check


_positive = number(0, low_open=True)
_non_negative = number(0)
_fraction = number(0, 1, high_open=True)


def entry(default, check, doc):
    """A config key: its default, the check its value must pass, one line on what it means."""
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"check": check, "doc": doc})
    return dataclasses.field(default=default, metadata={"check": check, "doc": doc})


# The no-argument run's backbone: ResNet-50's bottleneck blocks, two per stage at a quarter of
# their width (2.0 M parameters with PAN's decoder at 32 filters), which learns the built-in
# data from scratch in minutes on a 2-core CPU without bfloat16 units (docs/benchmarks.md).
BUILTIN_PRESET_BACKBONE = {"blocks": [2, 2, 2, 2], "stage_filters": [16, 32, 64, 128]}
BUILTIN_PRESET_DECODER_FILTERS = 32


@dataclasses.dataclass
class ModelSection:
    architecture: str = entry("pan", text, "the model family: a task registered in kseg.training.tasks.TASKS")
    backbone: str = entry("resnet50", text, "a backbone name the architecture takes (kseg.backbones.BACKBONES)")
    output_stride: int = entry(16, integer(choices=constants.OUTPUT_STRIDES), "the backbone's output stride, by dilation")
    backbone_weights: str = entry(None, optional(text), "null | imagenet | a weight file")
    batch_norm: str = entry(
        "train", choice(constants.BATCH_NORM_POLICIES),
        "train: statistics per replica; frozen: the backbone's BN fixed, in inference mode (DeepLab v2); sync: cross-replica",
    )
    options: dict = entry(
        {"decoder_filters": BUILTIN_PRESET_DECODER_FILTERS, "backbone_options": dict(BUILTIN_PRESET_BACKBONE)}, mapping,
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
    train_split: str = entry("train", split_names, "a split or a list of splits (their union)")
    val_split: str = entry("val", text, "the split evaluated at the end")
    val_limit: int = entry(None, optional(integer(low=1)), "evaluate only the validation split's first images (null: all)")
    annotation: str = entry("gtFine", choice(constants.CITYSCAPES_ANNOTATIONS), "Cityscapes labels for training")
    crop: list = entry([96, 96], pair(integer(low=1), "height, width: positive integers"), "training crop [h, w]")
    scale: list = entry([0.75, 1.5], optional(pair(_positive, "low, high: positive numbers")), "random scaling range, or null")
    flip: bool = entry(True, boolean, "random left-right flips")
    photometric: bool = entry(False, boolean, "brightness, contrast, saturation and hue jitter in random order (mmseg's ranges)")
    blur: float = entry(0.0, _fraction, "probability of a Gaussian blur (sigma 0.1-2.0) after the photometric jitter")
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
    learning_rate: float = entry(0.05, _non_negative, "initial rate (0: weights stay, BN statistics still update)")
    schedule: str = entry("poly", choice(constants.SCHEDULES), "poly (the papers'), cosine (to end_learning_rate) or step")
    warmup_steps: int = entry(0, integer(low=0), "linear warmup from 0 over these first steps, in front of the schedule")
    power: float = entry(0.9, _positive, "poly schedule power; 1 is linear")
    end_learning_rate: float = entry(0.0, _non_negative, "the rate the poly and cosine schedules end at")
    hold_fraction: float = entry(0.0, _fraction, "poly: share of the steps at the initial rate before the decay")
    step_milestones: list = entry([0.5, 0.75], fractions, "step: where the rate drops, as shares of the steps")
    step_gamma: float = entry(0.1, number(0, 1, low_open=True), "step: the factor at each milestone")
    momentum: float = entry(0.9, _fraction, "SGD momentum")
    nesterov: bool = entry(False, boolean, "Nesterov momentum")
    weight_decay: float = entry(
        1e-4, _non_negative, "sgd: the papers' L2 term, coupled (CoupledWeightDecaySGD); adamw: the decoupled decay (e.g. 0.01)"
    )
    lr_multipliers: dict = entry(
        {}, multipliers, "learning-rate factor of the variables whose path matches each regex (DeepLab: classifier 10x)"
    )


@dataclasses.dataclass
class TrainSection:
    steps: int = entry(3300, optional(integer(low=1)), "optimizer steps, or null with epochs")
    epochs: float = entry(None, optional(_positive), "passes over the training split, converted to steps")
    init_weights: str = entry(None, optional(text), "a .keras model of the same architecture to start from (layers matched by name, shapes must agree)")
    init_from: str = entry(
        None, optional(text), "fine-tune from a run folder, .keras file or checkpoint: every array whose path and shape match (other classes, other heads)"
    )
    checkpoint_every: int = entry(300, integer(low=1), "steps between checkpoints")
    eval_every: int = entry(
        None, optional(integer(low=1)), "steps between validations (val mIoU, best/model.keras); null: only at the end"
    )
    loss: str = entry("cross_entropy", loss_expression, "the segmentation loss: a name, or a weighted sum of them")
    class_weights: list = entry(
        None, class_weights,
        "per-class weights of the cross_entropy, ohem and focal terms, or computed from the training labels (SegNet's median frequency)"
    )
    label_smoothing: float = entry(0.0, _fraction, "cross_entropy: the smoothed target (1 - e) onehot + e / classes")
    ohem_threshold: float = entry(0.6, number(0, 1, low_open=True), "OHEM: keep pixels below this probability (RelationNet eq. 3)")
    ohem_min_kept: int = entry(100000, integer(low=0), "OHEM: keep at least this many pixels")
    focal_gamma: float = entry(2.0, _non_negative, "focal: the focusing parameter (Lin et al. eq. 5); its alpha is train.class_weights")
    tversky_alpha: float = entry(0.3, _non_negative, "tversky: weight of false positives (Salehi et al. eq. 3)")
    tversky_beta: float = entry(0.7, _non_negative, "tversky: weight of false negatives (0.5 and 0.5: Dice)")
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
class AdversarialSection:
    lambda_adv: float = entry(0.01, _non_negative, "weight of L_adv in L_seg = L_ce + lambda L_adv (--set lambda_adv=)")
    adversarial_loss: str = entry("non_saturating", choice(constants.ADVERSARIAL_LOSSES), "Seg-GAN eq. 4 or minimax")
    d_loss: str = entry("bce", choice(constants.DISCRIMINATOR_LOSSES), "the discriminator's loss (eq. 1) or focal")
    d_learning_rate: float = entry(1e-4, _positive, "Adam for D, same schedule shape as the segmentation network")
    d_beta_1: float = entry(0.9, _fraction, "Adam beta_1 for D")
    d_beta_2: float = entry(0.999, _fraction, "Adam beta_2 for D")


@dataclasses.dataclass
class RelationSection:
    scl_weight: float = entry(0.1, _non_negative, "lambda of the Spatial Correlation Loss (eq. 2); 0: no similarity subnet")
    shifted_steps: int = entry(None, optional(integer(low=1)), "evaluate with shifted multi-step testing (§II-C): 1, 2, 4 or 8")


@dataclasses.dataclass
class ExportSection:
    saved_model: bool = entry(True, boolean, "<run>/serving/<name>/<steps>/ for TF Serving (+ models.config)")
    onnx: bool = entry(True, boolean, "<run>/model.onnx, checked with ONNX Runtime")
    name: str = entry(None, optional(path_component), "the served model's name (null: the run's name)")
    model: str = entry("last", choice(constants.EXPORT_MODELS), "export the last weights, or the best by val mIoU (needs train.eval_every)")
    crf: str = entry(None, choice((None,) + constants.CRF_NAMES), "null | dense | conv: a CRF inside the exported graphs")
    max_side: int = entry(constants.MAX_SIDE, optional(integer(low=1)), "SavedModel: longer image sides run downscaled to this")
    max_pixels: int = entry(constants.MAX_PIXELS, optional(integer(low=1)), "SavedModel: larger images are refused before decoding")


# section name -> schema; a family's own sections (`adversarial`, `relation`) are named by its task's SECTIONS
SECTIONS = {
    "model": ModelSection,
    "data": DataSection,
    "optimizer": OptimizerSection,
    "train": TrainSection,
    "adversarial": AdversarialSection,
    "relation": RelationSection,
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
                f"{key}={config[section][name]!r} is not used with {governing}={config[other_section][other]!r} "
                f"(only with {' or '.join(values)})"
            )
    from kseg.losses.combined import parse_loss_expression

    terms = {name for _, name in parse_loss_expression(config["train"]["loss"])}
    for name, term in LOSS_TERM_KEYS.items():
        if config["train"][name] != DEFAULTS["train"][name] and term not in terms:
            raise ConfigError(
                f"train.{name}={config['train'][name]!r} is not used: train.loss={config['train']['loss']!r} has no {term} term"
            )


# Keys whose value is a mapping of the user's own keys (not sections of the schema).
FREE_MAPPINGS = {
    f"{section}.{field.name}"
    for section, schema in SECTIONS.items()
    for field in dataclasses.fields(schema)
    if field.metadata["check"] in (mapping, multipliers, label_map)
}
NAME = entry("builtin_pan", path_component, "the run's name: runs/<name>, the served model's default name")

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
