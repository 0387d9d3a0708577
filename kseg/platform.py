"""What kernels this process's TensorFlow runs: the one place kseg asks.

TensorFlow's CPU kernels are oneDNN's or Eigen's, fixed when TensorFlow loads: oneDNN is on
by default only on CPUs with AVX-512 VNNI / BF16 or AMX (and with `TF_ENABLE_ONEDNN_OPTS=1`),
so on most AMD CPUs and older Intel ones TensorFlow runs Eigen, which lacks some kernels
(dilated convolution gradients) and computes bfloat16 by emulation.

Where oneDNN trains faster than Eigen and TensorFlow leaves it off, `training.fit` turns it on
(`prefer_onednn_for_training`, before TensorFlow loads; docs/benchmarks.md, "oneDNN on and off").
Reading the CPU's flags imports nothing.
"""

import functools
import os
import sys

ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS"
# /proc/cpuinfo flags with which TensorFlow turns oneDNN on by itself on Linux
# (DefaultOneDnnPolicy in tensorflow/core/util/port.cc)
ONEDNN_DEFAULT_FLAGS = frozenset({"avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"})


@functools.lru_cache(maxsize=1)
def cpu_info(path="/proc/cpuinfo"):
    """(vendor, flags) of the first CPU in `path`: e.g. ("AuthenticAMD", frozenset({"avx2", ...})),
    or ("", frozenset()) where there is no such file (not Linux)."""
    vendor, flags = "", frozenset()
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "vendor_id" and not vendor:
                    vendor = value.strip()
                elif key == "flags":
                    return vendor, frozenset(value.split())
    except OSError:
        pass
    return vendor, flags


def onednn_trains_faster(vendor, flags):
    """True for the CPUs where oneDNN trains faster than Eigen but TensorFlow leaves it off: AMD's
    x86 CPUs with AVX2 and none of `ONEDNN_DEFAULT_FLAGS` (Zen 1-3). On a 2-core AVX2-only AMD EPYC
    (2026-12-07) oneDNN ran the first run's training step 1.25x and an ASPP step 1.4x faster; an
    Intel Xeon with oneDNN capped at AVX2 ran them 0.89x and 0.82x, so Intel CPUs keep Eigen."""
    return vendor == "AuthenticAMD" and "avx2" in flags and not flags & ONEDNN_DEFAULT_FLAGS


def prefer_onednn_for_training():
    """Set `TF_ENABLE_ONEDNN_OPTS=1` where `onednn_trains_faster` on this CPU, unless the variable
    is set or TensorFlow is loaded (it reads the variable once, when it loads). Returns the log line
    saying so, or None when nothing was changed."""
    if ONEDNN_VARIABLE in os.environ or "tensorflow" in sys.modules or not onednn_trains_faster(*cpu_info()):
        return None
    os.environ[ONEDNN_VARIABLE] = "1"
    return (
        f"oneDNN on ({ONEDNN_VARIABLE}=1): on this AVX2 CPU it trains faster than TensorFlow's default, Eigen;"
        f" set {ONEDNN_VARIABLE}=0 to keep Eigen"
    )


@functools.lru_cache(maxsize=1)
def onednn_enabled():
    """True when TensorFlow's CPU kernels are oneDNN's (imports TensorFlow)."""
    import tensorflow  # noqa: F401  (the probe reads what the loaded library decided)

    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):  # a TensorFlow without the probe: trust the variable
        return os.environ.get(ONEDNN_VARIABLE, "").lower() in ("1", "true")


def uses_gpu():
    """True when TensorFlow sees a GPU."""
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))
