"""`FusedBatchNormalization`: Keras' BatchNormalization computed by TensorFlow's fused kernel.

Keras 3 normalises with separate mean, variance, subtract, multiply and add ops (and, under
a bfloat16 policy, casts the whole activation to float32 and back around them). On this
library's CPU benchmarks that is 10-20% of a training step in float32 and more in
mixed_bfloat16 (`benchmarks/train_step.py`). `FusedBatchNormV3` does the same
arithmetic in one op per direction, accepts bfloat16/float16 activations with float32
statistics, and is what TF Serving, tf2onnx and the TFLite converter know best.

The layer is a drop-in subclass: the same four variables (gamma, beta, moving_mean,
moving_variance), the same momentum update with the biased batch variance, the same
inference-mode rule (`training=True` and `trainable`), so weights, checkpoints and the
batch-norm policies of `kseg.training.batch_norm` are unchanged. Cases the fused kernel
does not cover -- synchronized (cross-replica) statistics, renormalization, masks, inputs
not 4-D NHWC, a symbolic `training`, and in training an epsilon below cuDNN's 1e-5 -- run
Keras' own implementation.

The kernel's epsilon floor is 1.001e-5 (cuDNN's minimum plus rounding margin). Inference
computes any epsilon exactly by handing the kernel `moving_variance + epsilon - 1.001e-5`;
training with epsilon in [1e-5, 1.001e-5) -- PyTorch's and this library's decoder default
1e-5 -- normalises with 1.001e-5, as `tf.nn.fused_batch_norm` always has: a relative
change of `5e-9 / (variance + epsilon)` in the output, the moving statistics untouched.
"""

import keras
import tensorflow as tf

FUSED_MIN_EPSILON = 1.001e-5  # cuDNN's CUDNN_BN_MIN_EPSILON plus margin, as tf.nn.fused_batch_norm uses
TRAINING_MIN_EPSILON = 1e-5  # training epsilons from here up to FUSED_MIN_EPSILON run at FUSED_MIN_EPSILON


@keras.saving.register_keras_serializable(package="kseg")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` over the last axis of (B, H, W, C) inputs, fused.

    Same arguments and variables as Keras' layer; see the module docstring for when it
    defers to Keras' implementation.
    """

    def _fused(self, inputs, training, mask):
        return (
            mask is None
            and isinstance(training, (bool, type(None)))
            and not self.synchronized
            and not self.renorm
            and len(inputs.shape) == 4
            and self.axis in (3, -1)
            and (self.epsilon >= TRAINING_MIN_EPSILON or not (training and self.trainable))
        )

    @property
    def _kernel_epsilon(self):
        return max(self.epsilon, FUSED_MIN_EPSILON)

    def call(self, inputs, training=None, mask=None):
        if not self._fused(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        gamma = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels], tf.float32)
        beta = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels], tf.float32)
        inputs = tf.cast(inputs, self.compute_dtype)
        if training and self.trainable:
            outputs, mean, variance = self._normalise_with_batch_statistics(inputs, gamma, beta)
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
            return outputs
        outputs, *_ = tf.raw_ops.FusedBatchNormV3(
            x=inputs,
            scale=gamma,
            offset=beta,
            mean=tf.cast(self.moving_mean, tf.float32),
            variance=tf.cast(self.moving_variance, tf.float32) + (self.epsilon - self._kernel_epsilon),
            epsilon=self._kernel_epsilon,
            is_training=False,
        )
        return outputs

    def _normalise_with_batch_statistics(self, inputs, gamma, beta):
        """Outputs, batch mean (C,) and biased batch variance (C,) as Keras' layer computes them."""
        empty = tf.zeros([0], tf.float32)
        outputs, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=inputs, scale=gamma, offset=beta, mean=empty, variance=empty, epsilon=self._kernel_epsilon, is_training=True
        )
        # The kernel reports the unbiased (n - 1) variance; Keras' moving average uses the biased one.
        count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:3]), tf.float32)
        variance = variance * tf.maximum(count - 1.0, 0.0) / tf.maximum(count, 1.0)
        return outputs, mean, variance
