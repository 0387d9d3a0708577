"""What kernels this process's TensorFlow runs: the one place kseg asks.

TensorFlow's CPU kernels are oneDNN's or Eigen's, fixed when TensorFlow loads: oneDNN is on
by default only on CPUs with AVX-512 VNNI / BF16 or AMX (and with `TF_ENABLE_ONEDNN_OPTS=1`),
so on most AMD CPUs and older Intel ones TensorFlow runs Eigen, which lacks some kernels
(dilated convolution gradients) and computes bfloat16 by emulation.
"""

import functools
import os


@functools.lru_cache(maxsize=1)
def onednn_enabled():
    """True when TensorFlow's CPU kernels are oneDNN's (imports TensorFlow)."""
    import tensorflow  # noqa: F401  (the probe reads what the loaded library decided)

    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):  # a TensorFlow without the probe: trust the variable
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").lower() in ("1", "true")


def uses_gpu():
    """True when TensorFlow sees a GPU."""
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU"))
