"""SGD whose weight decay is the papers' L2 term on the gradient (Caffe / PyTorch SGD), and
AdamW, both with per-parameter-group learning-rate multipliers (Caffe's `lr_mult`)."""

import re

import keras


class MultiplierError(ValueError):
    """`lr_multipliers` that do not fit the variables (a pattern matching none, or several
    patterns with different factors on one variable)."""


class LearningRateMultipliers:
    """Caffe's `lr_mult` for a Keras optimizer (mixed in before it): a variable whose path
    (`variable.path`, e.g. "aspp/c1/kernel") matches a pattern of `lr_multipliers`
    (`re.search`) learns at that factor times the scheduled rate (DeepLab v2 §4.1.1: the
    classifier at 10x). A pattern that matches no variable is a `MultiplierError` when the
    optimizer is built; a variable matching patterns with different factors too."""

    def _set_multipliers(self, lr_multipliers):
        self.lr_multipliers = {str(pattern): float(factor) for pattern, factor in (lr_multipliers or {}).items()}
        for pattern, factor in self.lr_multipliers.items():
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"lr_multipliers: {pattern!r} is not a regular expression: {error}") from error
            if factor < 0:
                raise ValueError(f"lr_multipliers: the factor of {pattern!r} must be >= 0. Received: {factor}")

    def build(self, var_list):
        super().build(var_list)
        for pattern in self.lr_multipliers:
            if not any(re.search(pattern, variable.path) for variable in var_list):
                raise MultiplierError(f"lr_multipliers: {pattern!r} matches no trainable variable (paths look like {var_list[0].path!r})")
        # One factor per variable, by its optimizer index (update_step may see the backend's
        # variable, which has no Keras path); ambiguous patterns fail here, before a step.
        self._lr_factors = [self.lr_factor(variable) for variable in var_list]

    def lr_factor(self, variable):
        """The learning-rate multiplier of `variable` (a Keras variable): 1 unless a pattern
        matches its path."""
        factors = {factor for pattern, factor in self.lr_multipliers.items() if re.search(pattern, variable.path)}
        if len(factors) > 1:
            raise MultiplierError(f"lr_multipliers: {variable.path!r} matches patterns with different factors {sorted(factors)}")
        return factors.pop() if factors else 1.0

    def _multiplied(self, variable, learning_rate):
        factor = self._lr_factors[self._get_variable_index(variable)] if self.lr_multipliers else 1.0
        return learning_rate * factor if factor != 1.0 else learning_rate


@keras.saving.register_keras_serializable(package="kseg")
class CoupledWeightDecaySGD(LearningRateMultipliers, keras.optimizers.SGD):
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
        lr_multipliers: dict {regex: factor} (`LearningRateMultipliers`). Defaults to None.
        **kwargs: other `keras.optimizers.SGD` arguments (clipnorm, ...).
    """

    def __init__(
        self, learning_rate=0.01, momentum=0.9, nesterov=False, l2=0.0, decay_all=False, lr_multipliers=None, **kwargs
    ):
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
        self._set_multipliers(lr_multipliers)

    def _decays(self, variable):
        return self.l2 > 0 and (self.decay_all or len(variable.shape) >= 2) and self._use_weight_decay(variable)

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = self._multiplied(variable, learning_rate)
        if self._decays(variable):
            gradient = gradient + self.l2 * keras.ops.cast(variable, gradient.dtype)
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        config = super().get_config()
        config.pop("weight_decay", None)
        return {**config, "l2": self.l2, "decay_all": self.decay_all, "lr_multipliers": dict(self.lr_multipliers)}


@keras.saving.register_keras_serializable(package="kseg")
class MultipliedAdamW(LearningRateMultipliers, keras.optimizers.AdamW):
    """Keras's AdamW (Loshchilov & Hutter, decoupled weight decay) with `lr_multipliers`,
    decaying only variables of rank >= 2 (kernels; biases and BN parameters are left alone,
    as `CoupledWeightDecaySGD` does by default).

    Args:
        learning_rate: float or LearningRateSchedule.
        weight_decay: float. The decoupled decay. Defaults to 0.01 (PyTorch's).
        lr_multipliers: dict {regex: factor} (`LearningRateMultipliers`). Defaults to None.
        **kwargs: other `keras.optimizers.AdamW` arguments (beta_1, beta_2, epsilon, ...).
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.01, lr_multipliers=None, **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, **kwargs)
        self._set_multipliers(lr_multipliers)

    def build(self, var_list):
        self.exclude_from_weight_decay(var_list=[variable for variable in var_list if len(variable.shape) < 2])
        super().build(var_list)

    def update_step(self, gradient, variable, learning_rate):
        return super().update_step(gradient, variable, self._multiplied(variable, learning_rate))

    def get_config(self):
        return {**super().get_config(), "lr_multipliers": dict(self.lr_multipliers)}
