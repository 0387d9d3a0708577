"""A "same" convolution computed as one matrix product and a sum of shifted slices.

`tf.nn.conv2d` on this library's CPU (oneDNN, 2 cores) runs PAN's FPA 7x7 conv -- 2048
input channels at 1/32 of the image, e.g. (1, 16, 16, 2048) -> 256 at 512x512 -- at about
90 GFLOP/s, a quarter of what the same kernel reaches on large maps: each output reduces
over 7 * 7 * 2048 = 100352 inputs but there are only 256 outputs per image to share out.
Written as `Y = X @ W`, with X the (B*H*W, C) pixels and W the kernel as (C, k*k*F), the
same arithmetic is one well-shaped matmul; output pixel (i, j) is then the sum over the k*k
taps of Y's tap (dy, dx) slice at pixel (i + r*dy - pad, j + r*dx - pad): a "col2im".
Measured (`python benchmarks/matmul_conv.py`, 16x16x2048 -> 256, 7x7): 2.9x faster forward
and 1.9x faster forward + backward than `tf.nn.conv2d` (1.8x / 1.6x at 32x32); on ordinary
convs (3x3 over 1024 channels: even; 7x7 over 256: 0.8x) it does not pay, hence
`uses_matmul_conv`.

The gradient is written out (taped through the 49 slices it is 2-6x slower): the adjoint of
the shifted sum gathers the output gradient's k*k shifted windows (an im2col of the
(B, H, W, F) gradient), and both matrix products follow. Only 4-D pads, slices and matmuls:
it exports to SavedModel, ONNX and TFLite like any conv.
"""

import tensorflow as tf

# k * k * C from which the matmul form wins here: 2.9x forward at 7x7x1024 and 7x7x2048; 3x3x1024 even, 7x7x256 0.8x.
MATMUL_CONV_MIN_REDUCTION = 32768


def uses_matmul_conv(kernel_size, channels):
    """Whether `ConvBNActivation` computes a (kernel_size, channels) conv by `matmul_conv2d`."""
    return kernel_size > 1 and kernel_size * kernel_size * channels >= MATMUL_CONV_MIN_REDUCTION


def same_padding(kernel_size, rate):
    """(before, after) zero padding per spatial side of a stride-1 "same" conv, as TF's "SAME"."""
    total = rate * (kernel_size - 1)
    return total // 2, total - total // 2


def _shifted_sum(y, kernel_size, rate, filters, height, width):
    """sum over taps t = (dy, dx) of y[..., t*F:(t+1)*F] shifted by rate * (dy, dx) - pad."""
    before, after = same_padding(kernel_size, rate)
    y = tf.pad(y, [[0, 0], [before, after], [before, after], [0, 0]])
    taps = []
    for dy in range(kernel_size):
        for dx in range(kernel_size):
            t = (dy * kernel_size + dx) * filters
            taps.append(y[:, rate * dy : rate * dy + height, rate * dx : rate * dx + width, t : t + filters])
    return tf.add_n(taps)


def _shifted_windows(g, kernel_size, rate, height, width):
    """The adjoint of `_shifted_sum`: (B, H, W, F) -> (B, H, W, k*k*F), tap-major."""
    before, after = same_padding(kernel_size, rate)
    g = tf.pad(g, [[0, 0], [after, before], [after, before], [0, 0]])
    total = rate * (kernel_size - 1)
    windows = []
    for dy in range(kernel_size):
        for dx in range(kernel_size):
            y0, x0 = total - rate * dy, total - rate * dx
            windows.append(g[:, y0 : y0 + height, x0 : x0 + width, :])
    return tf.concat(windows, axis=-1)


def matmul_conv2d(x, kernel, rate=1):
    """`tf.nn.conv2d(x, kernel, 1, "SAME", dilations=rate)` as a matmul and a shifted sum.

    Args:
        x: (B, H, W, C) tensor.
        kernel: (k, k, C, F) tensor of x's dtype.
        rate: int. Dilation rate.

    Returns:
        (B, H, W, F) tensor: the stride-1 "same" convolution, zero padding as TF's "SAME".
    """
    kernel_size, filters = kernel.shape[0], kernel.shape[-1]

    @tf.custom_gradient
    def conv(x, kernel):
        shape = tf.shape(x)
        batch, height, width, channels = shape[0], shape[1], shape[2], kernel.shape[2]
        weights = tf.reshape(tf.transpose(kernel, (2, 0, 1, 3)), (channels, -1))  # (C, k*k*F), tap-major
        pixels = tf.reshape(x, (-1, channels))
        y = tf.reshape(tf.matmul(pixels, weights), (batch, height, width, -1))
        out = _shifted_sum(y, kernel_size, rate, filters, height, width)

        def grad(upstream):
            windows = tf.reshape(_shifted_windows(upstream, kernel_size, rate, height, width), (-1, kernel_size * kernel_size * filters))
            d_x = tf.reshape(tf.matmul(windows, weights, transpose_b=True), shape)
            d_weights = tf.matmul(pixels, windows, transpose_a=True)
            d_kernel = tf.transpose(tf.reshape(d_weights, (channels, kernel_size, kernel_size, filters)), (1, 2, 0, 3))
            return d_x, d_kernel

        return out, grad

    return conv(x, kernel)
