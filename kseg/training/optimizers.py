"""SGD whose weight decay is the papers' L2 term on the gradient (Caffe / PyTorch SGD)."""

import keras


@keras.saving.register_keras_serializable(package="kseg")
class CoupledWeightDecaySGD(keras.optimizers.SGD):
    """SGD with momentum where "weight decay" means what DeepLab's Caffe solver and PAN's
    PyTorch SGD mean: `g <- g + l2 * w` before the momentum update, so that
    `v <- momentum * v - lr * (g + l2 * w); w <- w + v` (Nesterov optional).

    Keras 3's own `weight_decay` argument is decoupled instead (`w <- w - lr * wd * w`
    after the step, outside the momentum), a different update; it is not used here.

    Args:
        learning_rate: float or LearningRateSchedule.
        momentum: float. Defaults to 0.9.
        nesterov: bool. Defaults to False.
        l2: float. The papers' weight decay (5e-4 DeepLab v2, 1e-4 PAN). Defaults to 0.
        decay_all: bool. Decay every trainable variable; by default only variables of
            rank >= 2 (conv and dense kernels) are decayed, as DeepLab's prototxts do
            (biases have decay_mult 0) and BN scales and offsets are left alone.
            Defaults to False.
        **kwargs: other `keras.optimizers.SGD` arguments (clipnorm, ...).
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, nesterov=False, l2=0.0, decay_all=False, **kwargs):
        if kwargs.get("weight_decay"):
            raise ValueError(
                "CoupledWeightDecaySGD applies the papers' L2 weight decay through l2=...; "
                f"Keras' decoupled weight_decay is not supported here. Received: weight_decay={kwargs['weight_decay']}"
            )
        kwargs.pop("weight_decay", None)
        super().__init__(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov, **kwargs)
        if float(l2) < 0:
            raise ValueError(f"Expected l2 >= 0. Received: l2={l2}")
        self.l2 = float(l2)
        self.decay_all = bool(decay_all)

    def _decays(self, variable):
        return self.l2 > 0 and (self.decay_all or len(variable.shape) >= 2) and self._use_weight_decay(variable)

    def update_step(self, gradient, variable, learning_rate):
        if self._decays(variable):
            gradient = gradient + self.l2 * keras.ops.cast(variable, gradient.dtype)
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config.pop("weight_decay", None)
        return {**config, "l2": self.l2, "decay_all": self.decay_all}
