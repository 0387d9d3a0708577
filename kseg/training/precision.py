"""`train.precision: auto`: mixed_bfloat16 where the hardware computes in bfloat16, else float32.

bfloat16 convolutions and matmuls are several times faster than float32 on CPUs with
AMX-BF16 or AVX-512 BF16 units and on GPUs of compute capability 8.0 and up -- on CPUs only through oneDNN: with
oneDNN off (`TF_ENABLE_ONEDNN_OPTS=0`) TensorFlow's Eigen kernels emulate bfloat16 even on a
CPU that has the units. Elsewhere bfloat16 is emulated and slower. Variables, losses and the softmax stay
float32 under the mixed policy, so no loss scaling is needed.
"""

import functools

CPU_BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")
MIN_GPU_CAPABILITY = (8, 0)


@functools.lru_cache(maxsize=None)
def native_bfloat16():
    """True when the device TensorFlow trains on computes bfloat16 natively."""
    import tensorflow as tf

    from kseg.platform import cpu_info, onednn_enabled

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability") or (0, 0)
        return tuple(capability) >= MIN_GPU_CAPABILITY
    _, flags = cpu_info()
    return any(flag in flags for flag in CPU_BFLOAT16_FLAGS) and onednn_enabled()


def resolve_precision(value):
    """The Keras dtype policy `train.precision` names ("auto" resolved on this machine)."""
    if value != "auto":
        return value
    return "mixed_bfloat16" if native_bfloat16() else "float32"
