"""Checks and stride bookkeeping shared by the backbones."""

from kseg.constants import OUTPUT_STRIDES


def check_output_stride(output_stride):
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(f"Expected output_stride in {OUTPUT_STRIDES}. Received: output_stride={output_stride}")
    return int(output_stride)


def check_input_shape(input_shape):
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise ValueError(
            f"Expected input_shape (height, width, 3): kseg models take RGB images. Received: input_shape={input_shape}"
        )
    return input_shape


def stage_strides_and_rates(num_stages, stride_before, output_stride):
    """Stride and dilation rate for each of `num_stages` stride-2 stages.

    A stage keeps stride 2 while the running stride is below `output_stride`; after that
    its stride becomes 1 and its dilation rate doubles (DeepLab §3.1), so every later
    layer sees the same field of view as in the undilated network.

    Returns:
        list of (stride, rate) per stage.
    """
    current, rate, plan = stride_before, 1, []
    for _ in range(num_stages):
        if current < output_stride:
            plan.append((2, rate))
            current *= 2
        else:
            rate *= 2
            plan.append((1, rate))
    return plan


# What keras.Model's functional constructor takes besides inputs and outputs; it accepts and
# drops anything else, so a misspelt model argument would otherwise pass unnoticed.
MODEL_KWARGS = ("name", "trainable", "dtype")


def check_model_kwargs(cls, kwargs):
    """Raise a TypeError naming the first keyword argument `cls` does not take."""
    unknown = sorted(set(kwargs) - set(MODEL_KWARGS))
    if unknown:
        raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {unknown[0]!r}")
    return kwargs
