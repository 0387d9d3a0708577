"""The checks a configuration key's value must pass, and `entry`, which declares a key with its
default, check and meaning. A failed check is a one-line `ConfigError` naming the key, what it
must be, and what it is (value and type); numbers given as strings are converted (YAML 1.1,
which PyYAML reads, takes `1e8` for a string). The schema (`kseg.training.schema`) and each
family's config section (`kseg/models/<family>/config.py`) declare their keys with these."""

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


def square_or_pair(check, what):
    """`pair`, or one value passing `check` meaning [value, value] (a square size)."""
    both = pair(check, what)

    @_expects(f"[{what}], or one for both")
    def check_size(key, value):
        if isinstance(value, (list, tuple)):
            return both(key, value)
        try:
            return [check(key, value)] * 2
        except ConfigError:
            _fail(key, f"[{what}] (a list of two), or one for both", value)

    return check_size


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


positive = number(0, low_open=True)
non_negative = number(0)
fraction = number(0, 1, high_open=True)


def entry(default, check, doc):
    """A config key: its default, the check its value must pass, one line on what it means."""
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata={"check": check, "doc": doc})
    return dataclasses.field(default=default, metadata={"check": check, "doc": doc})
