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

from .callbacks import Callback
from .validation import integer, number

__all__ = ["Schedule", "StepLR", "ExponentialLR", "CosineAnnealingLR", "LearningRateScheduler"]


class Schedule(Callback):
    """A learning-rate schedule: subclasses define ``rate(epoch, lr0)``."""

    def rate(self, epoch, lr0):
        raise NotImplementedError

    def on_train_begin(self, trainer):
        self.lr0, self.lrs = trainer.optimizer.lr, []

    def on_epoch_begin(self, trainer, epoch):
        lr = number(f"the learning rate {type(self).__name__} gave for epoch {epoch}", self.rate(epoch, self.lr0),
                    low=0, low_open=True)
        trainer.optimizer.lr = lr
        self.lrs.append(lr)

    def on_train_end(self, trainer):
        trainer.optimizer.lr = self.lr0


class StepLR(Schedule):
    """η = η₀ · γ^⌊(e − 1)/step_size⌋: the rate multiplied by γ every ``step_size`` epochs."""

    def __init__(self, step_size, gamma=0.1):
        self.step_size = integer("StepLR step_size", step_size, low=1)
        self.gamma = number("StepLR gamma", gamma, low=0, low_open=True)

    def rate(self, epoch, lr0):
        return lr0 * self.gamma ** ((epoch - 1) // self.step_size)


class ExponentialLR(Schedule):
    """η = η₀ · γ^(e − 1): the rate multiplied by γ every epoch."""

    def __init__(self, gamma):
        self.gamma = number("ExponentialLR gamma", gamma, low=0, low_open=True)

    def rate(self, epoch, lr0):
        return lr0 * self.gamma ** (epoch - 1)


class CosineAnnealingLR(Schedule):
    """η = η_min + (η₀ − η_min)(1 + cos(π (e − 1)/T_max))/2: from η₀ down to η_min over T_max epochs
    along half a cosine (and back up over the next T_max, as PyTorch's does)."""

    def __init__(self, T_max, eta_min=0.0):
        self.T_max = integer("CosineAnnealingLR T_max", T_max, low=1)
        self.eta_min = number("CosineAnnealingLR eta_min", eta_min, low=0)

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
