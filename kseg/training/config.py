"""Training configuration: a YAML recipe, `key=value` overrides, checked against the defaults."""

import copy

import yaml

DEFAULTS = {
    "name": "builtin_pan_r50",
    "model": {
        "architecture": "pan",  # pan | deeplabv2 | seggan | ssgan
        "backbone": "resnet50",
        "output_stride": 16,
        "backbone_weights": None,  # None | imagenet | path to a keras.applications weight file
        "options": {"decoder_filters": 64},  # further constructor arguments (aspp, multi_scale, ...)
    },
    "data": {
        "format": "builtin",  # builtin | voc | cityscapes | folder
        "root": None,
        "num_classes": 5,
        "train_split": "train",
        "val_split": "val",
        "annotation": "gtFine",  # Cityscapes: gtFine | gtCoarse
        "crop": [96, 96],
        "scale": [0.75, 1.5],  # None for no random scaling
        "flip": True,
        "batch_size": 8,
        "seed": 0,
        "skip_bad_examples": False,
    },
    "optimizer": {
        "learning_rate": 0.05,
        "power": 0.9,  # poly schedule
        "momentum": 0.9,
        "nesterov": False,
        "weight_decay": 1e-4,  # the papers' L2 term (coupled), see CoupledWeightDecaySGD
    },
    "train": {
        "steps": 300,
        "checkpoint_every": 50,
        "loss": "cross_entropy",  # cross_entropy | ohem
        "precision": "float32",  # float32 | mixed_bfloat16 | mixed_float16
        "jit_compile": False,
        "strategy": "default",  # default | mirrored | multi_worker (reads TF_CONFIG)
        "seed": 0,  # weight initialisation
    },
    "adversarial": {  # seggan / ssgan only
        "lambda_adv": 0.01,  # weight of L_adv in L_seg = L_ce + lambda L_adv; `--set lambda_adv=...` for short
        "adversarial_loss": "non_saturating",  # non_saturating (Seg-GAN eq. 4) | minimax
        "d_loss": "bce",  # bce (eq. 1) | focal
        "d_learning_rate": 1e-4,  # Adam for D, same poly decay as the segmentation network
        "d_beta_1": 0.9,
        "d_beta_2": 0.999,
    },
    "export": {
        "saved_model": True,  # <run>/serving/<name>/<steps>/ for TF Serving (+ models.config)
        "onnx": True,  # <run>/model.onnx, checked with ONNX Runtime
        "name": None,  # the served model's name; defaults to the run's name
        "crf": None,  # None | dense | conv: CRF inside the exported graphs
    },
}

_CHOICES = {
    ("model", "architecture"): ("pan", "deeplabv2", "seggan", "ssgan"),
    ("adversarial", "adversarial_loss"): ("non_saturating", "minimax"),
    ("adversarial", "d_loss"): ("bce", "focal"),
    ("data", "format"): ("builtin", "voc", "cityscapes", "folder"),
    ("train", "loss"): ("cross_entropy", "ohem"),
    ("train", "precision"): ("float32", "mixed_bfloat16", "mixed_float16"),
    ("train", "strategy"): ("default", "mirrored", "multi_worker"),
    ("export", "crf"): (None, "dense", "conv"),
}


class ConfigError(ValueError):
    """A recipe or override that does not fit the configuration schema."""


def _merge(base, update, path=""):
    for key, value in update.items():
        where = f"{path}{key}"
        if key not in base:
            raise ConfigError(f"Unknown config key {where!r}. Valid keys here: {sorted(base)}")
        if isinstance(base[key], dict) and key != "options":
            if not isinstance(value, dict):
                raise ConfigError(f"Config key {where!r} must be a mapping. Received: {value!r}")
            _merge(base[key], value, where + ".")
        else:
            base[key] = value


# Short names accepted by --set for keys swept often.
ALIASES = {"lambda_adv": "adversarial.lambda_adv"}


def apply_override(config, assignment):
    """Apply one `a.b.c=value` override in place; the value is parsed as YAML."""
    if "=" not in assignment:
        raise ConfigError(f"Expected key=value in --set. Received: {assignment!r}")
    key, raw = assignment.split("=", 1)
    value = yaml.safe_load(raw)
    key = ALIASES.get(key.strip(), key.strip())
    parts = key.split(".")
    update = value
    for part in reversed(parts):
        update = {part: update}
    _merge(config, update)


def load_config(path=None, overrides=()):
    """Defaults, then the recipe at `path` (YAML), then each `key=value` override."""
    config = copy.deepcopy(DEFAULTS)
    if path is not None:
        try:
            with open(path) as f:
                recipe = yaml.safe_load(f) or {}
        except OSError as error:
            raise ConfigError(f"--config: cannot read {path}: {error}") from error
        except yaml.YAMLError as error:
            raise ConfigError(f"--config: {path} is not valid YAML: {error}") from error
        if not isinstance(recipe, dict):
            raise ConfigError(f"--config: {path} must hold a mapping at the top level")
        _merge(config, recipe)
    for assignment in overrides:
        apply_override(config, assignment)
    validate(config)
    return config


def validate(config):
    for (section, key), choices in _CHOICES.items():
        if config[section][key] not in choices:
            raise ConfigError(f"{section}.{key} must be one of {list(choices)}. Received: {config[section][key]!r}")
    data = config["data"]
    if data["format"] != "builtin" and not data["root"]:
        raise ConfigError(f"data.root is required for data.format={data['format']!r} (set it with --set data.root=PATH)")
    if not (isinstance(data["crop"], list) and len(data["crop"]) == 2 and all(int(c) > 0 for c in data["crop"])):
        raise ConfigError(f"data.crop must be [height, width]. Received: {data['crop']!r}")
    if data["scale"] is not None and not (len(data["scale"]) == 2 and 0 < data["scale"][0] <= data["scale"][1]):
        raise ConfigError(f"data.scale must be [low, high] with 0 < low <= high, or null. Received: {data['scale']!r}")
    for section, key in (("data", "batch_size"), ("train", "steps"), ("train", "checkpoint_every"), ("data", "num_classes")):
        if not isinstance(config[section][key], int) or config[section][key] < 1:
            raise ConfigError(f"{section}.{key} must be a positive integer. Received: {config[section][key]!r}")
    if config["data"]["num_classes"] < 2:
        raise ConfigError(f"data.num_classes must be >= 2. Received: {config['data']['num_classes']}")
    return config


def dump_config(config, path):
    with open(path, "w") as f:
        yaml.safe_dump(config, f, sort_keys=False)
