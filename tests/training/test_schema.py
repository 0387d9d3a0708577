"""The config schema's cross-key rules (kseg/training/schema.py): a key that only means something
for some value of another is refused, by name, when that other key makes it meaningless; the
same for a loss term's key without the term; a warmup as long as the run; and the reference
table lists every key once."""

import copy
import dataclasses
import re

import pytest

from kseg.training.schema import (
    APPLIES_ONLY, DEFAULTS, LOSS_TERM_KEYS, SECTIONS, ConfigError, check_dependent_keys, check_warmup, reference,
)

# key -> (a value away from its default, a value of the governing key that makes it meaningless, the error)
MEANINGLESS = {
    "optimizer.power": (1.0, "cosine", "optimizer.power=1.0 is not used with optimizer.schedule='cosine' (only with poly)"),
    "optimizer.hold_fraction": (0.2, "step", "optimizer.hold_fraction=0.2 is not used with optimizer.schedule='step' (only with poly)"),
    "optimizer.step_milestones": ([0.6], "poly", "optimizer.step_milestones=[0.6] is not used with optimizer.schedule='poly' (only with step)"),
    "optimizer.step_gamma": (0.5, "cosine", "optimizer.step_gamma=0.5 is not used with optimizer.schedule='cosine' (only with step)"),
    "optimizer.momentum": (0.5, "adamw", "optimizer.momentum=0.5 is not used with optimizer.name='adamw' (only with sgd)"),
    "optimizer.nesterov": (True, "adamw", "optimizer.nesterov=true is not used with optimizer.name='adamw' (only with sgd)"),
    # booleans as the YAML or --set the user wrote them (this message was a TypeError before)
    "data.blur": (0.5, False, "data.blur=0.5 is not used with data.photometric=false (only with true)"),
    "data.mask_colours": (True, "cityscapes", "data.mask_colours=true is not used with data.format='cityscapes' (only with voc or folder)"),
}
LOSS_KEY_VALUES = {"label_smoothing": 0.1, "ohem_threshold": 0.7, "ohem_min_kept": 10, "focal_gamma": 1.0,
                   "tversky_alpha": 0.5, "tversky_beta": 0.5}


def _config(**changes):
    config = copy.deepcopy(DEFAULTS)
    for key, value in changes.items():
        section, name = key.split(".")
        config[section][name] = value
    return config


def test_every_dependent_key_has_a_case_here():
    assert sorted(MEANINGLESS) == sorted(APPLIES_ONLY) and sorted(LOSS_KEY_VALUES) == sorted(LOSS_TERM_KEYS)


@pytest.mark.parametrize("key", sorted(MEANINGLESS))
def test_a_key_its_governing_key_makes_meaningless_is_refused_by_name(key):
    value, other, message = MEANINGLESS[key]
    governing, applies = APPLIES_ONLY[key]
    with pytest.raises(ConfigError, match="^" + re.escape(message) + "$"):
        check_dependent_keys(_config(**{key: value, governing: other}))
    check_dependent_keys(_config(**{key: value, governing: applies[0]}))  # where it applies
    check_dependent_keys(_config(**{governing: other}))  # left at its default: nothing to refuse


@pytest.mark.parametrize("name", sorted(LOSS_TERM_KEYS))
def test_a_loss_terms_key_needs_the_term(name):
    term, value = LOSS_TERM_KEYS[name], LOSS_KEY_VALUES[name]
    others = "lovasz" if term != "lovasz" else "dice"
    with pytest.raises(ConfigError, match=rf"train.{name}={value!r} is not used: train.loss='{others}' has no {term} term"):
        check_dependent_keys(_config(**{f"train.{name}": value, "train.loss": others}))
    check_dependent_keys(_config(**{f"train.{name}": value, "train.loss": f"0.5 * {term} + {others}"}))


def test_a_warmup_as_long_as_the_run_is_refused():
    check_warmup(99, 100)
    check_warmup(0, 1)
    with pytest.raises(ConfigError, match="optimizer.warmup_steps=100 is not below the run's 100 training steps"):
        check_warmup(100, 100)


def test_the_reference_lists_every_key_once():
    keys = [line.split("`")[1] for line in reference().splitlines()[2:]]
    expected = ["name"] + [f"{section}.{field.name}" for section, schema in SECTIONS.items() for field in dataclasses.fields(schema)]
    assert keys == expected and len(set(keys)) == len(keys)
