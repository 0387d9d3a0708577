"""A loaded training config is read-only (issue 31, item 2): read by key or attribute, changed
only through `replace` or a copy, and still a dict and lists to YAML, JSON and pickle."""

import copy
import json
import pickle

import pytest
import yaml

from kseg.training.config import load_config
from kseg.training.frozen import FrozenDict, FrozenList


def test_a_loaded_config_refuses_writes_by_name_and_reads_by_attribute():
    config = load_config(overrides=["train.steps=200"])
    assert isinstance(config, FrozenDict) and isinstance(config["data"]["crop"], FrozenList)
    assert config.train.steps == config["train"]["steps"] == 200
    for write in (
        lambda: config["train"].__setitem__("steps", 3),
        lambda: config["model"]["options"].pop("decoder_filters"),
        lambda: config["data"]["crop"].append(1),
        lambda: setattr(config.train, "steps", 3),
    ):
        with pytest.raises(TypeError, match=r"the training config is read-only once loaded: use config.replace"):
            write()
    with pytest.raises(AttributeError, match="the config has no key 'stepz'"):
        config.train.stepz


def test_replace_and_copies_leave_the_loaded_config_as_it_was():
    config = load_config()
    changed = config.replace({"train.steps": 7, "data.crop": [32, 32]})
    assert changed.train.steps == 7 and changed.data.crop == [32, 32] and isinstance(changed, FrozenDict)
    assert config.train.steps == 2400 and config.data.crop == [96, 96]
    with pytest.raises(KeyError, match="the config has no key 'train.stepz'"):
        config.replace({"train.stepz": 1})
    mutable = copy.deepcopy(config)
    mutable["train"]["steps"] = 5
    assert type(mutable) is dict and type(mutable["data"]["crop"]) is list and config.train.steps == 2400


def test_it_serialises_as_the_dicts_and_lists_it_holds():
    config = load_config()
    plain = copy.deepcopy(config)
    assert yaml.safe_load(yaml.safe_dump(config)) == plain
    assert json.loads(json.dumps(config)) == plain
    again = pickle.loads(pickle.dumps(config))
    assert again == config and isinstance(again, FrozenDict)
    assert config.data.crop == (96, 96) and config.data.crop != (96, 97)
