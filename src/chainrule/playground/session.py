"""One page's training run: a network trained by ``chainrule.training.fit`` in a thread of its own,
steered and watched through a callback.

The thread alone touches the network. The server hands it commands (play, pause, step, a detail,
an export) through a queue; the ``Live`` callback reads them between batches, at ``on_gradients``
(the batch's gradients computed, its step not yet taken), and waits there while paused, so the
page and the server's event loop never wait for training and never see weights half updated.
What it has to say (snapshots at most ``FPS`` a second, findings, details, the end of the run)
goes out through ``send``, a function the server makes thread-safe.
"""

import logging
import os
import queue
import tempfile
import threading
import time

from ..callbacks import Callback
from ..training import fit
from .views import Views, detail, sample_rows, trace_spec

__all__ = ["Run", "FPS", "MAX_EPOCHS"]

FPS = 30  # snapshots a second, at most, while training plays
MAX_EPOCHS = 100_000  # a run ends there (the page says so; reset starts a new one)


class Run:
    """A network, its data and its training thread; ``command`` is the only way in."""

    def __init__(self, config, data, net, send):
        self.config, self.data, self.net, self.send = config, data, net, send
        self.views = Views(net, data)
        self.inbox = queue.Queue()
        self.playing, self.credits, self.closing = False, 0, False
        self.selected = []  # the training rows a detail traces (none: the first rows of a batch)
        self.epoch = self.steps = 0
        self.grad_norms = None
        self.last_sent, self.changed = 0.0, True
        self.optimizer = config.make_optimizer()
        self.thread = threading.Thread(target=self._run, name="chainrule-playground", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def command(self, kind, reply=None, **args):
        """Queue a command for the training thread; ``reply(result)`` is called from that thread
        for the ones that answer (``export_model``, ``export_trace``)."""
        self.inbox.put((kind, args, reply))

    def close(self):
        """End the run; the thread finishes its batch and exits."""
        self.closing = True
        self.inbox.put(("close", {}, None))

    # ---- the training thread --------------------------------------------------------------

    def _run(self):
        schedule = self.config.make_schedule()
        test = (self.data.X_test, self.data.y_test) if len(self.data.X_test) else None
        reason = None
        try:
            history = fit(self.net, self.data.X_train, self.data.y_train, optimizer=self.optimizer,
                          epochs=MAX_EPOCHS, batch_size=self.config.batch, validation_data=test,
                          callbacks=[*([schedule] if schedule else []), Live(self)], progress=False)
            reason = history.stop_reason or f"the run reached its last epoch, {MAX_EPOCHS:,}"
        except (ValueError, ArithmeticError, MemoryError) as e:
            self.send({"type": "error", "message": str(e)})
            reason = f"training stopped: {e}"
        except Exception as e:  # a fault, not the data's: still say so, and go on answering the page
            logging.getLogger(__name__).exception("the playground's training stopped")
            self.send({"type": "error", "message": f"training failed: {type(e).__name__}: {e}"})
            reason = f"training stopped: {type(e).__name__}: {e}"
        if self.closing:
            return
        self.playing = False
        self._send_snapshot()
        self.send({"type": "status", "state": "finished", "reason": reason})
        while not self.closing:  # no more training; still answer details and exports
            self.handle(*self.inbox.get(), finished=True)

    def handle(self, kind, args, reply, trainer=None, finished=False):
        """Carry out one command; during training ``trainer`` is the running Trainer. A command
        that fails unexpectedly is one error message to the page (and the answer to an export),
        logged with its traceback; the thread goes on serving the next one."""
        try:
            self._handle(kind, args, reply, trainer, finished)
        except Exception as e:  # a fault here must not end the thread: the page would wait forever
            logging.getLogger(__name__).exception("the playground's command %r failed", kind)
            message = f"{kind} failed: {type(e).__name__}: {e}; the run goes on (reset starts a new one)"
            if reply is not None:
                reply(RuntimeError(message))
            else:
                self.send({"type": "error", "message": message})

    def _handle(self, kind, args, reply, trainer, finished):
        if kind == "close":
            if trainer is not None:
                trainer.stop("the page closed or reset the run")
        elif kind in ("play", "pause", "step"):
            if finished:
                self.send({"type": "error", "message": "this run has finished; press reset to start a new one"})
                return
            # each press of step is one more step owed (quick presses are not merged); play and pause owe none
            self.playing, self.credits = kind == "play", self.credits + 1 if kind == "step" else 0
            self.send({"type": "status", "state": "playing" if self.playing else "paused"})
        elif kind == "select":
            self.selected = args["rows"]
        elif kind == "detail":
            self.send(self._detail(args["what"]))
        elif kind == "snapshot":
            self._send_snapshot()
        elif kind == "export_model":
            reply(self._model_bytes())
        elif kind == "export_trace":
            reply(self._trace(args["format"]))

    def wait(self, trainer):
        """At ``on_gradients``: carry out the queued commands; while paused (and no step is owed),
        send the picture of where training stands, then wait for the next command."""
        while True:
            hold = not self.playing and not self.credits and not self.closing
            if hold and self.changed:
                self._send_snapshot()
            try:
                command = self.inbox.get(block=hold)
            except queue.Empty:
                break
            self.handle(*command, trainer=trainer)
            if self.closing:
                return
        if self.credits:
            self.credits -= 1
        self.changed = True

    def _send_snapshot(self):
        self.send(self.views.snapshot(self.epoch, self.steps, self.grad_norms))
        self.last_sent, self.changed = time.monotonic(), False

    def _spec(self):
        rows = sample_rows(len(self.data.X_train), self.selected, self.config.batch)
        X, Y = self.net.check_data(self.data.X_train[rows], self.data.y_train[rows])
        return trace_spec(self.net, X, Y, self.optimizer.lr), rows

    def _detail(self, what):
        try:
            spec, rows = self._spec()
            out = detail(spec, what)
        except ValueError as e:
            return {"type": "detail", "what": what, "error": str(e)}
        out["rows"], out["optimizer"] = rows, self.config.optimizer
        out["x"], out["target"] = spec["train"]["x"], spec["train"]["target"]
        return out

    def _trace(self, format):
        from ..tracing import trace

        try:
            return trace(self._spec()[0]).render(format)
        except ValueError as e:
            return ValueError(str(e))

    def _model_bytes(self):
        """The network as Network.save writes it, read back from a temporary folder of its own;
        an OSError (the temporary folder full or not writable) is the answer, as a message."""
        try:
            with tempfile.TemporaryDirectory(prefix="chainrule-playground-") as folder:
                path = os.path.join(folder, "model.npz")
                self.net.save(path)
                with open(path, "rb") as f:
                    return f.read()
        except OSError as e:
            return OSError(f"the model could not be written to a temporary file ({(e.strerror or str(e)).lower()}); "
                           "make room in the temporary folder, or set TMPDIR to a writable folder with room, "
                           "and export again")


class Live(Callback):
    """The run's hooks into ``fit``: commands and pauses between batches, snapshots, findings."""

    def __init__(self, run):
        self.run = run
        self.reported = 0  # the findings already sent

    def on_train_begin(self, trainer):
        self._findings(trainer)

    def on_gradients(self, trainer, batch):
        run = self.run
        if run.playing and time.monotonic() - run.last_sent >= 1 / FPS:
            run._send_snapshot()
        run.wait(trainer)
        if run.closing:
            trainer.stop("the page closed or reset the run")
            return
        # the gradient norm ‖∂L/∂W‖ of each layer on this batch (the vanishing-gradient view)
        run.grad_norms = [layer.grad_norm() for layer in trainer.net.layers]
        time.sleep(0)  # let the server's thread take the interpreter between batches

    def on_batch_end(self, trainer, batch, loss):
        self.run.steps += 1

    def on_epoch_end(self, trainer, epoch, logs):
        self.run.epoch = epoch
        self._findings(trainer)

    def on_train_end(self, trainer):
        self._findings(trainer)

    def _findings(self, trainer):
        """Send the diagnostics' findings that are new since the last look, with their epoch."""
        findings = trainer.history.findings
        for finding in findings[self.reported:]:
            self.run.send({"type": "finding", **finding.as_dict()})
        self.reported = len(findings)
