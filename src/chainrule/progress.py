"""The progress bar of ``fit``: tqdm's, which Jupyter shows as a widget; silent in logs and CI."""

import os
import sys
import warnings

from .callbacks import Callback

__all__ = ["ProgressBar", "shown"]


def shown(stream=None):
    """Whether a progress bar belongs here: on a terminal or in a Jupyter kernel, not under CI."""
    if os.environ.get("CI"):
        return False
    stream = sys.stderr if stream is None else stream
    return bool(getattr(stream, "isatty", lambda: False)()) or "ipykernel" in sys.modules


class ProgressBar(Callback):
    """One bar over the epochs with the last epoch's loss (and accuracy, validation loss). Warnings
    shown while it runs are written above it, so the bar is not cut in half."""

    def on_train_begin(self, trainer):
        self.bar = None
        if not shown():
            return
        from tqdm.auto import tqdm

        self.bar = tqdm(total=trainer.epochs, desc="epoch", unit="epoch", file=sys.stderr, leave=True,
                        bar_format="{desc} {n_fmt}/{total_fmt} {bar} {postfix} ETA {remaining}",
                        mininterval=0.1)
        self.showwarning = warnings.showwarning
        warnings.showwarning = self._above

    def _above(self, *args, **kwargs):
        self.bar.clear()
        self.showwarning(*args, **kwargs)
        self.bar.refresh()

    def on_epoch_end(self, trainer, epoch, logs):
        if self.bar is None:
            return
        shown = {"loss": "loss", "accuracy": "acc", "val_loss": "val_loss", "val_accuracy": "val_acc"}
        self.bar.set_postfix({label: f"{logs[key]:.4g}" for key, label in shown.items() if logs.get(key) is not None},
                             refresh=False)
        self.bar.update(1)

    def on_train_end(self, trainer):
        if self.bar is not None:
            warnings.showwarning = self.showwarning
            self.bar.close()
