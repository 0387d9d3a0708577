"""RelationNet's relation module: bidirectional GRUs along rows, then along columns."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kseg")
class RelationModule(keras.layers.Layer):
    """Relation module of RelationNet (Zhuang et al., §II-A2, eq. 1, Fig. 2): a
    bidirectional GRU runs along every row of the feature map (left-right), then another
    along every column (up-down) of its output, so each position's output depends on its
    whole row and, through it, on the whole map, with most weight from its neighbours.

    Each pass treats the rows (columns) as a batch of sequences: `(B, H, W, C)` is reshaped
    to `(B*H, W, C)`, given to `keras.layers.Bidirectional(keras.layers.GRU(hidden_size,
    return_sequences=True))`, and reshaped back; the forward and backward states are
    concatenated, so both passes output `2 * hidden_size` channels.

    Args:
        hidden_size: int. GRU units per direction. Defaults to 256.

    Input: `(batch, H, W, C)`. Output: `(batch, H, W, 2 * hidden_size)`.

    Example:
    >>> RelationModule(hidden_size=64)(keras.ops.zeros((2, 8, 9, 32))).shape
    TensorShape([2, 8, 9, 128])
    """

    def __init__(self, hidden_size=256, **kwargs):
        super().__init__(**kwargs)
        if int(hidden_size) < 1:
            raise ValueError(f"Expected hidden_size >= 1. Received: hidden_size={hidden_size}")
        self.hidden_size = int(hidden_size)
        self.rows = keras.layers.Bidirectional(
            keras.layers.GRU(self.hidden_size, return_sequences=True, name="gru"), name="rows"
        )
        self.columns = keras.layers.Bidirectional(
            keras.layers.GRU(self.hidden_size, return_sequences=True, name="gru"), name="columns"
        )

    def build(self, input_shape):
        channels = input_shape[-1]
        self.rows.build((None, None, channels))
        self.columns.build((None, None, 2 * self.hidden_size))

    @staticmethod
    def _along_rows(layer, x):
        shape = tf.shape(x)
        sequences = tf.reshape(x, tf.stack([shape[0] * shape[1], shape[2], shape[3]]))
        out = layer(sequences)
        return tf.reshape(out, tf.stack([shape[0], shape[1], shape[2], tf.shape(out)[-1]]))

    def call(self, inputs):
        x = self._along_rows(self.rows, inputs)  # left-right
        x = tf.transpose(x, [0, 2, 1, 3])
        x = self._along_rows(self.columns, x)  # up-down
        return tf.transpose(x, [0, 2, 1, 3])

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], 2 * self.hidden_size)

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size}


# The 9 neighbour offsets (dh, dw) of the shift correlation, row-major over {-1, 0, 1}^2.
NEIGHBOUR_OFFSETS = tuple((dh, dw) for dh in (-1, 0, 1) for dw in (-1, 0, 1))


def shift_map(x, dh, dw, fill=0):
    """`out[:, i, j] = x[:, i + dh, j + dw]`, `fill` where that falls outside: the zero-padded
    "anchor feature" shifted by (dh, dw) and cropped back (RelationNet Fig. 3).
    x: (B, H, W, ...) tensor; dh, dw in {-1, 0, 1}."""
    rank = len(x.shape)
    paddings = [[0, 0], [1, 1], [1, 1]] + [[0, 0]] * (rank - 3)
    padded = tf.pad(x, paddings, constant_values=fill)
    shape = tf.shape(x)
    begin = [0, 1 + dh, 1 + dw] + [0] * (rank - 3)
    return tf.slice(padded, begin, tf.concat([shape[:1], shape[1:3], shape[3:]], axis=0))


@keras.saving.register_keras_serializable(package="kseg")
class ShiftCorrelation(keras.layers.Layer):
    """RelationNet's shift-feature correlation (§II-A3, Fig. 3): the feature map is
    zero-padded ("anchor feature"), shifted by each (dh, dw) in {-1, 0, 1}^2, cropped back,
    and concatenated with the unshifted features, giving one "correlation feature" per
    position and neighbour (the position itself included).

    Input: `(batch, H, W, C)`. Output: `(batch, H, W, 9, 2 C)`: `[..., k, :C]` the
    position's features, `[..., k, C:]` those of neighbour k = (dh, dw) =
    `NEIGHBOUR_OFFSETS[k]` (zeros beyond the border).
    """

    def call(self, inputs):
        shifted = tf.stack([shift_map(inputs, dh, dw) for dh, dw in NEIGHBOUR_OFFSETS], axis=3)
        anchor = tf.broadcast_to(inputs[:, :, :, None], tf.shape(shifted))
        return tf.concat([anchor, shifted], axis=-1)

    def compute_output_shape(self, input_shape):
        channels = None if input_shape[-1] is None else 2 * input_shape[-1]
        return (*input_shape[:3], len(NEIGHBOUR_OFFSETS), channels)


@keras.saving.register_keras_serializable(package="kseg")
class SimilarityHead(keras.layers.Layer):
    """RelationNet's similarity estimation subnet (§II-A3): on each correlation feature
    (position, neighbour) a small 1x1-conv head (`hidden` channels, ReLU, then 1 channel)
    predicts the logit of P(same label), shared over positions and neighbours.

    Args:
        hidden: int. Width of the hidden 1x1 conv. Defaults to 256.

    Input: `(batch, H, W, 9, 2 C)` from `ShiftCorrelation`. Output: `(batch, H, W, 9)`
    float32 logits.
    """

    def __init__(self, hidden=256, **kwargs):
        super().__init__(**kwargs)
        if int(hidden) < 1:
            raise ValueError(f"Expected hidden >= 1. Received: hidden={hidden}")
        self.hidden = int(hidden)
        self.hidden_conv = keras.layers.Dense(self.hidden, activation="relu", name="hidden")
        self.logit = keras.layers.Dense(1, name="logit", dtype="float32")

    def build(self, input_shape):
        self.hidden_conv.build(input_shape)
        self.logit.build((*input_shape[:-1], self.hidden))

    def call(self, inputs):
        return tf.squeeze(self.logit(self.hidden_conv(inputs)), -1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden}
