"""The training loop's hooks: what ``fit`` calls, when, and with what.

Everything that watches or steers training is a callback: the History, early stopping, the
progress bar, the diagnostics, learning-rate schedules, and your own. ``fit`` calls each hook
of each callback at its point of the loop (Keras's names):

    on_train_begin(trainer)              before the first epoch
    on_epoch_begin(trainer, epoch)       epochs count from 1; set trainer.recording = True to have
                                         this epoch's accuracy and gradient norms taken
    on_gradients(trainer, batch)         after batch's backward pass, before the optimizer's step:
                                         the layers' dW, db (and net.grad) hold its gradients,
                                         their Z, A, delta its forward and backward pass;
                                         batch counts from 0 within the epoch
    on_batch_end(trainer, batch, loss)   after the step; loss is the batch's, before the step
    on_epoch_end(trainer, epoch, logs)   logs: the epoch's "loss", "grad_norms", "time", and
                                         "accuracy", "val_loss", "val_accuracy" where they apply
    on_train_end(trainer)                after the last epoch, however training ended

``trainer`` is the ``chainrule.training.Trainer`` running the loop: its ``net``, ``optimizer``,
``history``, ``X`` and ``Y`` (as ``check_data`` returns them), ``validation`` ((X, Y) or None),
``epochs``, ``batch_size``, ``epoch``. ``trainer.stop(reason)`` ends training after the current
batch. ``trainer.diverged`` is None, or the ``chainrule.training.Diverged`` that stopped training on
a NaN or inf (its ``what``: "loss", "gradient" or "update"; its ``epoch``; its ``where``, which a
callback may set in on_train_end, before it becomes the History's ``stop_reason``).

The loop calls only the hooks a callback overrides, so a hook you leave out costs nothing.
"""

__all__ = ["Callback", "HOOKS"]

HOOKS = ("on_train_begin", "on_epoch_begin", "on_gradients", "on_batch_end", "on_epoch_end", "on_train_end")


class Callback:
    """Override any of the hooks; the base class's do nothing."""

    def on_train_begin(self, trainer):
        pass

    def on_epoch_begin(self, trainer, epoch):
        pass

    def on_gradients(self, trainer, batch):
        pass

    def on_batch_end(self, trainer, batch, loss):
        pass

    def on_epoch_end(self, trainer, epoch, logs):
        pass

    def on_train_end(self, trainer):
        pass


def overriding(callbacks, hook):
    """The bound ``hook`` methods of the callbacks that override it, in order."""
    base = getattr(Callback, hook)
    return [getattr(cb, hook) for cb in callbacks if getattr(type(cb), hook, base) is not base]
