"""Learning-rate schedules: callbacks that set the optimizer's rate η at the start of each epoch.

Pass one to ``fit(..., callbacks=[...])``. The rate of epoch e (1-based, as ``fit`` counts) is
computed from η₀, the optimizer's rate when training begins, and written into ``optimizer.lr``;
when training ends the optimizer gets η₀ back, so a second ``fit`` starts the schedule afresh.
The rates match PyTorch's schedulers stepped once per epoch (its epoch 0 is our epoch 1):

    StepLR(step_size, gamma)            η = η₀ · γ^⌊(e − 1)/step_size⌋
    ExponentialLR(gamma)                η = η₀ · γ^(e − 1)
    CosineAnnealingLR(T_max, eta_min)   η = η_min + (η₀ − η_min) · (1 + cos(π (e − 1)/T_max)) / 2
    LearningRateScheduler(fn)           η = fn(e), any function of the epoch

``schedule.lrs`` lists the rate of every epoch trained.
"""

import math
import numbers

from .callbacks import Callback

__all__ = ["Schedule", "StepLR", "ExponentialLR", "CosineAnnealingLR", "LearningRateScheduler"]


def _number(name, value, low=0.0, strict=True, integer=False):
    """``value`` as a float (int when ``integer``) above ``low``; ValueError naming ``name`` otherwise."""
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (value > low if strict else value >= low):
        bound = f"> {low:g}" if strict else f"≥ {low:g}"
        raise ValueError(f"{name} must be a finite {'integer' if integer else 'number'} {bound}, got {value!r}")
    return int(value) if integer else float(value)


class Schedule(Callback):
    """A learning-rate schedule: subclasses define ``rate(epoch, lr0)``."""

    def rate(self, epoch, lr0):
        raise NotImplementedError

    def on_train_begin(self, trainer):
        self.lr0, self.lrs = trainer.optimizer.lr, []

    def on_epoch_begin(self, trainer, epoch):
        lr = self.rate(epoch, self.lr0)
        if not isinstance(lr, numbers.Real) or isinstance(lr, bool) or not math.isfinite(lr) or lr <= 0:
            raise ValueError(f"{type(self).__name__} gave the learning rate {lr!r} for epoch {epoch}; "
                             "a learning rate must be a finite number > 0")
        trainer.optimizer.lr = float(lr)
        self.lrs.append(float(lr))

    def on_train_end(self, trainer):
        trainer.optimizer.lr = self.lr0


class StepLR(Schedule):
    """η = η₀ · γ^⌊(e − 1)/step_size⌋: the rate multiplied by γ every ``step_size`` epochs."""

    def __init__(self, step_size, gamma=0.1):
        self.step_size = _number("StepLR step_size", step_size, integer=True)
        self.gamma = _number("StepLR gamma", gamma)

    def rate(self, epoch, lr0):
        return lr0 * self.gamma ** ((epoch - 1) // self.step_size)


class ExponentialLR(Schedule):
    """η = η₀ · γ^(e − 1): the rate multiplied by γ every epoch."""

    def __init__(self, gamma):
        self.gamma = _number("ExponentialLR gamma", gamma)

    def rate(self, epoch, lr0):
        return lr0 * self.gamma ** (epoch - 1)


class CosineAnnealingLR(Schedule):
    """η = η_min + (η₀ − η_min)(1 + cos(π (e − 1)/T_max))/2: from η₀ down to η_min over T_max epochs
    along half a cosine (and back up over the next T_max, as PyTorch's does)."""

    def __init__(self, T_max, eta_min=0.0):
        self.T_max = _number("CosineAnnealingLR T_max", T_max, integer=True)
        self.eta_min = _number("CosineAnnealingLR eta_min", eta_min, strict=False)

    def rate(self, epoch, lr0):
        return self.eta_min + (lr0 - self.eta_min) * (1 + math.cos(math.pi * (epoch - 1) / self.T_max)) / 2


class LearningRateScheduler(Schedule):
    """η = fn(e) for epoch e (1-based): any function of the epoch that returns a rate > 0."""

    def __init__(self, fn):
        if not callable(fn):
            raise ValueError(f"LearningRateScheduler needs a function epoch → learning rate, got {fn!r}")
        self.fn = fn

    def rate(self, epoch, lr0):
        return self.fn(epoch)
