"""Training configuration: a YAML recipe, `key=value` overrides, checked against the defaults.

A recipe may have `stages:`, a list of mappings of overrides, run one after the other, each
starting from the previous stage's weights (RelationNet's alternating training). In a
stage, `name` names the stage (its folder `stage-<k>-<name>`); everything else overrides
the recipe's keys for that stage. `--set` overrides apply to every stage and win over
what the stages set.
"""

import copy
import re

import yaml

from kseg.atomic import write_text
from kseg.models.registry import family_shorthands
from kseg.training.frozen import freeze, thaw
from kseg.training.schema import (  # noqa: F401  (ConfigError re-exported)
    DEFAULTS, FREE_MAPPINGS, ConfigError, check_dependent_keys, check_types, check_warmup,
)


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader refusing a key written twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text, where):
    """`text` (str or UTF-8 bytes) parsed as YAML; a `ConfigError` naming `where` otherwise."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ConfigError(f"{where} is not UTF-8 text (byte {error.start}): save it as UTF-8 YAML") from None
    if "\0" in text:
        raise ConfigError(f"{where} holds NUL characters: not a YAML text file")
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as error:
        mark, problem = getattr(error, "problem_mark", None), getattr(error, "problem", None) or str(error)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"{where} is not valid YAML: {' '.join(problem.split())}{at}") from None


def _merge(base, update, path=""):
    for key, value in update.items():
        where = f"{path}{key}"
        if key not in base:
            raise ConfigError(f"Unknown config key {where!r}. Valid keys here: {sorted(base)}")
        if isinstance(base[key], dict) and where not in FREE_MAPPINGS:
            if not isinstance(value, dict):
                raise ConfigError(f"Config key {where!r} must be a mapping. Received: {value!r}")
            _merge(base[key], value, where + ".")
        else:
            base[key] = value


# Short names accepted by --set for keys swept often.
ALIASES = family_shorthands()  # --set lambda_adv=0.1 for adversarial.lambda_adv, ...


def _parse_override(assignment):
    """`a.b.c=value` -> ("a.b.c", {"a": {"b": {"c": value}}}); the value is parsed as YAML."""
    if "=" not in assignment:
        raise ConfigError(f"Expected key=value in --set. Received: {assignment!r}")
    key, raw = assignment.split("=", 1)
    key = ALIASES.get(key.strip(), key.strip())
    value = parse_yaml(raw, f"--set {key}: the value {raw!r}")
    update = value
    for part in reversed(key.split(".")):
        update = {part: update}
    return key, update


def _deep_update(target, update, path=""):
    """Nested dict update without schema checks (a stage's partial overrides)."""
    for key, value in update.items():
        where = f"{path}{key}"
        if isinstance(value, dict) and isinstance(target.get(key), dict) and where not in FREE_MAPPINGS:
            _deep_update(target[key], value, where + ".")
        else:
            target[key] = copy.deepcopy(value)


def apply_override(config, assignment):
    """Apply one `a.b.c=value` override in place; the value is parsed as YAML. An entry of a
    free mapping (`model.options.aspp=S`) is added to it, keeping the others."""
    key, update = _parse_override(assignment)
    free = next((m for m in FREE_MAPPINGS if key.startswith(m + ".")), None)
    if free is not None:
        section, name = free.split(".")
        config[section][name] = {**config[section][name], **update[section][name]}
        update = {section: {name: config[section][name]}}
    else:
        _merge(config, update)
    stages = config.get("stages")
    for stage in stages if isinstance(stages, list) else ():  # --set wins over what a stage sets
        if "stages" not in update and isinstance(stage, dict):
            _deep_update(stage, update)


def load_config(path=None, overrides=()):
    """Defaults, then the recipe at `path` (YAML), then each `key=value` override, checked:
    a read-only `FrozenDict` (`kseg.training.frozen`). Without a `name` from either, the run
    is named after its data format and architecture (`default_name`)."""
    config = copy.deepcopy(DEFAULTS)
    named = any("name" in _parse_override(assignment)[1] for assignment in overrides)
    if path is not None:
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as error:
            raise ConfigError(f"--config: cannot read {path}: {error.strerror or error}") from None
        recipe = parse_yaml(raw, f"--config: {path}") or {}
        if not isinstance(recipe, dict):
            raise ConfigError(f"--config: {path} must hold a mapping at the top level")
        _merge(config, recipe)
        named = named or "name" in recipe
    if _changes_model_key(config, overrides, "architecture"):
        config["model"]["options"] = {}  # the recipe's options were written for its own architecture
    elif _changes_model_key(config, overrides, "backbone"):
        config["model"]["options"].pop("backbone_options", None)  # written for the recipe's backbone
    for assignment in overrides:
        apply_override(config, assignment)
    if not named:  # runs/voc_pan for a VOC dataset, not the built-in run's folder
        config["name"] = default_name(config)
    validate(config)
    return freeze(config)


def default_name(config):
    """The run's name when neither the recipe nor an override gives one: `<data.format>_<model.architecture>`
    (`builtin_pan` for the first run)."""
    return f"{config['data']['format']}_{config['model']['architecture']}"


def _changes_model_key(config, overrides, key):
    """Whether an override sets `model.<key>` to another value than the recipe's."""
    for assignment in overrides:
        _, update = _parse_override(assignment)
        value = update.get("model", {}).get(key) if isinstance(update.get("model"), dict) else None
        if value is not None and value != config["model"][key]:
            return True
    return False


def expand_stages(config):
    """[(stage_name, full config without stages)]: one entry per stage, or one (None, config)
    for a recipe without stages. Each stage's config is the recipe with the stage's
    overrides merged in, validated."""
    stages = config.get("stages") or []
    base = {k: copy.deepcopy(v) for k, v in config.items() if k != "stages"}
    base["stages"] = []
    if not stages:
        return [(None, freeze(base))]
    if not isinstance(stages, list):
        raise ConfigError(f"stages must be a list of mappings. Received: {stages!r}")
    expanded = []
    for index, stage in enumerate(stages, 1):
        if not isinstance(stage, dict):
            raise ConfigError(f"stages[{index - 1}] must be a mapping of config overrides. Received: {stage!r}")
        overrides = dict(stage)
        name = str(overrides.pop("name", index))
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"stages[{index - 1}].name must be letters, digits, '-' or '_'. Received: {name!r}")
        if "stages" in overrides:
            raise ConfigError(f"stages[{index - 1}] cannot itself have stages")
        stage_config = copy.deepcopy(base)
        try:
            _merge(stage_config, overrides)
            _validate_one(stage_config)
        except ConfigError as error:
            raise ConfigError(f"stage {index} ({name}): {error}") from error
        expanded.append((name, freeze(stage_config)))
    return expanded


def validate(config):
    """Check `config`, and each of its stages when it has some."""
    if config.get("stages"):
        expand_stages(config)  # validates every stage
        return config
    return _validate_one(config)


def _validate_one(config):
    check_types(config)
    check_dependent_keys(config)
    data, train = config["data"], config["train"]
    if data["format"] != "builtin" and not data["root"]:
        raise ConfigError(f"data.root is required for data.format={data['format']!r} (set it with --set data.root=PATH)")
    if data["service"] is not None and data["format"] != "records":
        raise ConfigError(
            f"data.service needs data.format=records (not {data['format']!r}): the file-pair pipeline runs Python (PIL), "
            "which tf.data service workers cannot; convert the dataset with python -m training.make_records"
        )
    if train["init_weights"] and train["init_from"]:
        raise ConfigError("set one of train.init_weights (the same model) and train.init_from (fine-tuning), not both")
    if config["export"]["model"] == "best" and train["eval_every"] is None:
        raise ConfigError("export.model=best needs train.eval_every (the steps between validations that find the best)")
    if data["label_map"] and data["format"] == "records":
        raise ConfigError(
            "data.label_map applies when records are written (python -m training.make_records --set data.label_map=...); "
            "records hold training ids already"
        )
    if data["service"] is not None and not re.match(r"^grpc://[^/:]+:[0-9]+$", data["service"]):
        raise ConfigError(f"data.service must be grpc://host:port. Received: {data['service']!r}")
    _resolve_classes(data)
    from kseg.training.precision import resolve_precision

    train["precision"] = resolve_precision(train["precision"])  # the run's config.yaml says what ran
    if data["scale"] is not None and not data["scale"][0] <= data["scale"][1]:
        raise ConfigError(f"data.scale must be [low, high] with 0 < low <= high, or null. Received: {data['scale']!r}")
    if (train["steps"] is None) == (train["epochs"] is None):
        raise ConfigError(
            "Set exactly one of train.steps and train.epochs (the other null). "
            f"Received: steps={train['steps']!r}, epochs={train['epochs']!r}"
        )
    if train["steps"] is not None:  # with train.epochs, kseg.training.optimization checks once it knows the steps
        check_warmup(config["optimizer"]["warmup_steps"], train["steps"])
    from kseg.training.tasks import get_task  # builds nothing; reads the models' signatures

    get_task(freeze(config)).check()  # a task reads the config as every reader does: read-only, by attribute
    return config


def _resolve_classes(data):
    """`data.class_names` and `data.num_classes` filled in (in place) from each other and the
    dataset's format; records: their palette too when `data.palette` is null."""
    from kseg.data.formats import resolve_classes

    try:
        spec = resolve_classes(dataset_spec({"data": data}))
    except ValueError as error:
        raise ConfigError(str(error)) from None
    data["class_names"], data["num_classes"] = list(spec.class_names), spec.num_classes
    if data["palette"] is None and spec.palette is not None:
        data["palette"] = [list(colour) for colour in spec.palette]


def dataset_spec(config):
    """The `kseg.data.DatasetSpec` of `config`'s data section: what the library's readers take."""
    from kseg.data.spec import DatasetSpec

    return DatasetSpec.from_mapping(config["data"])


def config_text(config):
    """`config` as the YAML written next to a run (keys in schema order)."""
    return yaml.safe_dump(thaw(config), sort_keys=False)


def dump_config(config, path):
    """Write `config` as YAML to `path`, atomically."""
    return write_text(path, config_text(config))
