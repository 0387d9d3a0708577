"""Tables of classes by name (kseg/registry.py): a class registered under each of its names,
a name taken twice refused with both classes named."""

import pytest

from kseg.registry import registrar


def test_a_class_is_registered_under_each_name_and_a_taken_name_is_refused():
    table = {}
    register = registrar(table, "backbone")

    @register("resnet50", "r50")
    class ResNet:
        pass

    assert table == {"resnet50": ResNet, "r50": ResNet}
    with pytest.raises(ValueError, match="backbone 'r50' is already registered by ResNet"):
        @register("r50")
        class Other:
            pass
