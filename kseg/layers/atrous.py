"""Atrous convolution (DeepLab v2 §3.1, eq. 1) as an op with a gradient on every backend.

The forward pass is TensorFlow's own dilated `Conv2D` (`tf.nn.conv2d(..., dilations=r)`):
one op, fast on oneDNN, Eigen and cuDNN alike, and it converts to ONNX as a dilated Conv.
Its registered gradient does not exist everywhere: without oneDNN (most AMD CPUs, older
Intel ones) TensorFlow's CPU `Conv2DBackpropInput` / `Conv2DBackpropFilter` refuse
dilation rates above 1. The gradient is therefore written out here through the
space-to-batch identity DeepLab itself uses (`tf.nn.atrous_conv2d`): a dilated conv equals
an ordinary conv on the r*r interleaved sub-grids of its input,

    conv_r(x, w) = batch_to_space(conv_1(space_to_batch(x, r), w), r)

so both adjoints are rate-1 convolution gradients, which every backend has. Which backward
runs is decided in one place (`_native_dilated_gradient`): TensorFlow's own where its kernel
exists (oneDNN on, or a GPU), the space-to-batch form elsewhere; the forward graph, and so
every export, is the same op in both cases.
"""

import tensorflow as tf

from kseg.platform import onednn_enabled, uses_gpu


def _native_dilated_gradient():
    """Whether TensorFlow has dilated-conv gradient kernels for the devices this process uses."""
    return onednn_enabled() or uses_gpu()


def _subgrid_padding(size, rate):
    """Zero rows (or columns) appended so that `size` divides into `rate` sub-grids."""
    return (-size) % rate


def _space_to_batch_backward(x, kernel, upstream, rate):
    """(dL/dx, dL/dkernel) of a "VALID" dilated conv from rate-1 convolution gradients.

    x: (B, H, W, C); kernel: (k, k, C, F); upstream: (B, H - r(k-1), W - r(k-1), F).
    """
    shape = tf.shape(x)
    pads = [[0, _subgrid_padding(shape[1], rate)], [0, _subgrid_padding(shape[2], rate)]]
    blocks = [rate, rate]
    sub_x = tf.space_to_batch_nd(x, blocks, pads)  # (r*r*B, ceil(H/r), ceil(W/r), C)
    # The adjoint of batch_to_space with crops is space_to_batch with the same paddings.
    sub_upstream = tf.space_to_batch_nd(upstream, blocks, pads)
    sub_dx = tf.raw_ops.Conv2DBackpropInput(
        input_sizes=tf.shape(sub_x), filter=kernel, out_backprop=sub_upstream, strides=[1, 1, 1, 1], padding="VALID"
    )
    d_kernel = tf.raw_ops.Conv2DBackpropFilter(
        input=sub_x, filter_sizes=tf.shape(kernel), out_backprop=sub_upstream, strides=[1, 1, 1, 1], padding="VALID"
    )
    return tf.batch_to_space(sub_dx, blocks, pads), d_kernel


def atrous_conv2d(x, kernel, rate):
    """`tf.nn.conv2d(x, kernel, 1, "VALID", dilations=rate)`, differentiable on every backend.

    Args:
        x: (B, H, W, C) tensor, already padded (kseg pads explicitly: ONNX Runtime refuses
            dilated Convs with auto_pad=SAME_*).
        kernel: (k, k, C, F) tensor of x's dtype.
        rate: int >= 1. Dilation rate r.

    Returns:
        (B, H - r(k-1), W - r(k-1), F) tensor.
    """
    if rate == 1 or _native_dilated_gradient():
        return tf.nn.conv2d(x, kernel, strides=1, padding="VALID", dilations=rate)

    @tf.custom_gradient
    def conv(x, kernel):
        def grad(upstream):
            return _space_to_batch_backward(x, kernel, upstream, rate)

        return tf.nn.conv2d(x, kernel, strides=1, padding="VALID", dilations=rate), grad

    return conv(x, kernel)
