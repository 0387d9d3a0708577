"""The type and range of every leaf key of the training configuration.

`check_types(config)` runs before any data or model work; a wrong value is a one-line
`ConfigError` naming the key, what it must be, and what it is (value and type). Numbers
given as strings are converted (YAML 1.1, which PyYAML reads, takes `1e8` for a string).
"""


class ConfigError(ValueError):
    """A recipe or override that does not fit the configuration schema."""


def _describe(value):
    return f"{value!r} ({type(value).__name__})"


def _fail(key, expected, value):
    raise ConfigError(f"{key} must be {expected}. Received: {_describe(value)}")


def _number(key, value, expected):
    if isinstance(value, bool):
        _fail(key, expected, value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    _fail(key, expected, value)


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

    def check(key, value):
        value = _integer(key, value, expected)
        if (low is not None and value < low) or (choices and value not in choices):
            _fail(key, expected, value)
        return value

    return check


def boolean(key, value):
    if not isinstance(value, bool):
        _fail(key, "true or false", value)
    return value


def text(key, value):
    if not isinstance(value, str) or not value:
        _fail(key, "a non-empty string", value)
    return value


def mapping(key, value):
    if not isinstance(value, dict):
        _fail(key, "a mapping", value)
    return value


def optional(check):
    def check_optional(key, value):
        return None if value is None else check(key, value)

    return check_optional


def pair(check, what):
    """A list of two values, each passing `check`."""

    def check_pair(key, value):
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            _fail(key, f"[{what}] (a list of two)", value)
        try:
            return [check(key, v) for v in value]
        except ConfigError:
            _fail(key, f"[{what}]", value)

    return check_pair


def split_names(key, value):
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(n, str) and n for n in names):
        _fail(key, "a split name or a list of them", value)
    return value


def choice(options):
    def check(key, value):
        if value not in options:
            raise ConfigError(f"{key} must be one of {list(options)}. Received: {_describe(value)}")
        return value

    return check


# One place for each choice list of the configuration.
CHOICES = {
    ("model", "architecture"): ("pan", "deeplabv2", "seggan", "ssgan", "relationnet"),
    ("adversarial", "adversarial_loss"): ("non_saturating", "minimax"),
    ("adversarial", "d_loss"): ("bce", "focal"),
    ("data", "format"): ("builtin", "voc", "cityscapes", "folder"),
    ("data", "annotation"): ("gtFine", "gtCoarse"),
    ("train", "loss"): ("cross_entropy", "ohem"),
    ("train", "precision"): ("float32", "mixed_bfloat16", "mixed_float16"),
    ("train", "strategy"): ("default", "mirrored", "multi_worker"),
    ("export", "crf"): (None, "dense", "conv"),
}

_positive = number(0, low_open=True)
_non_negative = number(0)
_fraction = number(0, 1, high_open=True)

SCHEMA = {
    "name": text,
    "model": {
        "backbone": text,
        "output_stride": integer(choices=(8, 16, 32)),
        "backbone_weights": optional(text),
        "options": mapping,
    },
    "data": {
        "root": optional(text),
        "num_classes": integer(low=2),
        "train_split": split_names,
        "val_split": text,
        "crop": pair(integer(low=1), "height, width: positive integers"),
        "scale": optional(pair(_positive, "low, high: positive numbers")),
        "flip": boolean,
        "batch_size": integer(low=1),
        "seed": optional(integer()),
        "skip_bad_examples": boolean,
        "max_bad_fraction": number(0, 1),
    },
    "optimizer": {
        "learning_rate": _non_negative,  # 0 allowed: weights stay, BN statistics still update
        "power": _positive,
        "end_learning_rate": _non_negative,
        "hold_fraction": _fraction,
        "momentum": _fraction,
        "nesterov": boolean,
        "weight_decay": _non_negative,
    },
    "train": {
        "steps": optional(integer(low=1)),
        "epochs": optional(_positive),
        "init_weights": optional(text),
        "checkpoint_every": integer(low=1),
        "ohem_threshold": number(0, 1, low_open=True),
        "ohem_min_kept": integer(low=0),
        "jit_compile": boolean,
        "seed": integer(),
    },
    "adversarial": {
        "lambda_adv": _non_negative,
        "d_learning_rate": _positive,
        "d_beta_1": _fraction,
        "d_beta_2": _fraction,
    },
    "relation": {"scl_weight": _non_negative},
    "export": {
        "saved_model": boolean,
        "onnx": boolean,
        "name": optional(text),
        "max_side": optional(integer(low=1)),
        "max_pixels": optional(integer(low=1)),
    },
}
for (_section, _key), _options in CHOICES.items():
    SCHEMA[_section][_key] = choice(_options)


def check_types(config):
    """Check (and normalise: numeric strings to numbers) every leaf key in place."""
    for section, rule in SCHEMA.items():
        if isinstance(rule, dict):
            for key, check in rule.items():
                config[section][key] = check(f"{section}.{key}", config[section][key])
        else:
            config[section] = rule(section, config[section])
    return config
