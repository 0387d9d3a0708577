"""`train.precision: auto` resolves on the machine, and the run's config records the result."""

from kseg.training import precision
from kseg.training.config import load_config


def test_auto_follows_the_hardware(monkeypatch):
    for native, expected in ((True, "mixed_bfloat16"), (False, "float32")):
        monkeypatch.setattr(precision, "native_bfloat16", lambda native=native: native)
        assert precision.resolve_precision("auto") == expected
        assert load_config()["train"]["precision"] == expected  # the default preset says auto
    assert precision.resolve_precision("mixed_float16") == "mixed_float16"


def test_cpu_flags_are_read_from_cpuinfo(monkeypatch):
    import tensorflow as tf

    from kseg.platform import onednn_enabled

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])  # no GPU: the CPU decides
    with open("/proc/cpuinfo") as f:
        flags = next(line for line in f if line.startswith("flags")).split()
    precision.native_bfloat16.cache_clear()
    has_units = any(flag in flags for flag in precision.CPU_BFLOAT16_FLAGS)
    assert precision.native_bfloat16() == (has_units and onednn_enabled())  # Eigen emulates bfloat16
    precision.native_bfloat16.cache_clear()  # later tests see the real devices
