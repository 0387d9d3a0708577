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
        self.rows = keras.layers.Bidirectional(keras.layers.GRU(self.hidden_size, return_sequences=True), name="rows")
        self.columns = keras.layers.Bidirectional(keras.layers.GRU(self.hidden_size, return_sequences=True), name="columns")

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
