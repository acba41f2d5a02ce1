"""The training loop's hooks, the recording schedule, validation_split, early stopping on accuracy,
and learning-rate schedules (against PyTorch's schedulers where torch is installed)."""

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import datasets
from chainrule.training import Trainer

XOR_X, XOR_Y = datasets.xor()


def xor_net(seed=0):
    return cr.Network([cr.Dense(2, 4, "sigmoid"), cr.Dense(4, 1, "sigmoid")], loss="bce", seed=seed)


class Recorder(cr.Callback):
    """Every hook call, in order, with what the loop shows at that point."""

    def __init__(self):
        self.calls = []

    def on_train_begin(self, trainer):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, trainer, epoch):
        self.calls.append(("epoch_begin", epoch))

    def on_gradients(self, trainer, batch):
        self.calls.append(("gradients", trainer.epoch, batch))

    def on_batch_end(self, trainer, batch, loss):
        self.calls.append(("batch_end", trainer.epoch, batch))

    def on_epoch_end(self, trainer, epoch, logs):
        self.calls.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, trainer):
        self.calls.append(("train_end",))


def test_hooks_are_called_in_order_at_their_points():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 2)), rng.integers(0, 2, 10)
    rec = Recorder()
    xor_net().fit(X, y, optimizer=cr.SGD(0.1), epochs=2, batch_size=4, callbacks=[rec], progress=False)
    per_batch = lambda e: [c for b in range(3) for c in (("gradients", e, b), ("batch_end", e, b))]  # 4 + 4 + 2 rows
    keys = ["accuracy", "grad_norms", "loss", "time"]
    assert rec.calls == ([("train_begin",)]
                         + [("epoch_begin", 1)] + per_batch(1) + [("epoch_end", 1, keys)]
                         + [("epoch_begin", 2)] + per_batch(2) + [("epoch_end", 2, keys)]
                         + [("train_end",)])


def test_on_gradients_sees_the_batch_gradients_before_the_step():
    """At on_gradients the layers hold ∂L/∂W of the batch (against central differences) and θ is
    still the θ the gradient was taken at; after the step θ has moved by −η·g."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 1))
    net = cr.Network([cr.Dense(2, 3, "tanh"), cr.Dense(3, 1)], loss="mse", seed=0)
    seen = {}

    class Look(cr.Callback):
        def on_gradients(self, trainer, batch):
            seen["theta"], seen["grad"] = trainer.net.theta.copy(), trainer.net.grad.copy()

    start = net.theta.copy()
    net.fit(X, y, optimizer=cr.SGD(0.5), epochs=1, callbacks=[Look()], progress=False, diagnostics=False)
    np.testing.assert_array_equal(seen["theta"], start)
    probe, numeric = net.copy(), np.empty_like(start)

    def loss_at(i, h):
        probe.theta[...] = start
        probe.theta[i] += h
        return probe.loss_value(X, y)

    for i in range(start.size):  # central differences of the loss at the starting θ
        numeric[i] = (loss_at(i, 1e-6) - loss_at(i, -1e-6)) / 2e-6
    np.testing.assert_allclose(seen["grad"], numeric, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(net.theta, start - 0.5 * seen["grad"], rtol=1e-15)


def test_only_overridden_hooks_are_called():
    class EpochsOnly(cr.Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            pass

    trainer = Trainer(xor_net(), cr.SGD(0.1), *xor_net().check_data(XOR_X, XOR_Y), 2, 4, False, None, [EpochsOnly()])
    assert [len(trainer.hooks[h]) for h in ("on_train_begin", "on_gradients", "on_batch_end", "on_epoch_end")] == \
        [0, 0, 0, 1]


def test_a_callback_stops_training_cleanly_mid_epoch():
    class StopAtBatch(cr.Callback):
        def on_batch_end(self, trainer, batch, loss):
            if trainer.epoch == 3 and batch == 1:
                trainer.stop("enough after two batches of epoch 3")

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 2)), rng.integers(0, 2, 12)
    net = xor_net()
    ref = net.copy()
    h = net.fit(X, y, optimizer=cr.SGD(0.1), epochs=10, batch_size=4, shuffle=False, callbacks=[StopAtBatch()],
                progress=False, diagnostics=False)
    assert h.epochs == 3 and h.stop_reason == "enough after two batches of epoch 3"
    # the partial epoch's loss is the mean over the 8 rows it trained on
    ref.fit(X, y, optimizer=cr.SGD(0.1), epochs=2, batch_size=4, shuffle=False, progress=False, diagnostics=False)
    first = ref.backward(X[:4], y[:4])
    ref.theta -= 0.1 * ref.grad
    second = ref.backward(X[4:8], y[4:8])
    ref.theta -= 0.1 * ref.grad
    assert h.loss[-1] == pytest.approx((first + second) / 2, rel=1e-13)
    np.testing.assert_allclose(net.theta, ref.theta, rtol=1e-13)


def test_accuracy_and_gradient_norms_are_recorded_on_the_schedule_and_the_last_epoch():
    h = xor_net().fit(XOR_X, XOR_Y, optimizer=cr.SGD(1.0), epochs=50, progress=False, diagnostics=False)
    recorded = [e for e, a in enumerate(h.accuracy, start=1) if a is not None]
    assert recorded == list(range(1, 21)) + list(range(22, 41, 2)) + [44, 48, 50]  # thinned, and the last
    assert recorded == [e for e, n in enumerate(h.grad_norms, start=1) if n is not None]
    assert len(h.loss) == len(h.time) == 50 and None not in h.loss
    every = xor_net().fit(XOR_X, XOR_Y, optimizer=cr.SGD(1.0), epochs=50, record=1, progress=False, diagnostics=False)
    assert None not in every.accuracy and every.loss == h.loss  # recording changes nothing that training computes
    assert [a for a in h.accuracy if a is not None] == [every.accuracy[e - 1] for e in recorded]
    third = xor_net().fit(XOR_X, XOR_Y, optimizer=cr.SGD(1.0), epochs=10, record=3, progress=False, diagnostics=False)
    assert [e for e, a in enumerate(third.accuracy, start=1) if a is not None] == [3, 6, 9, 10]
    for bad in (0, -1, 2.5, True, "all"):
        with pytest.raises(ValueError, match=r"record \(None for the default"):
            xor_net().fit(XOR_X, XOR_Y, epochs=2, record=bad, progress=False)


def test_an_epochs_accuracy_counts_the_rows_right_before_each_update():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(9, 2)), rng.integers(0, 2, 9)
    net = xor_net()
    ref = net.copy()
    h = net.fit(X, y, optimizer=cr.SGD(0.3), epochs=1, batch_size=4, shuffle=False, progress=False, diagnostics=False)
    right = 0
    for s in range(0, 9, 4):
        ref.backward(X[s : s + 4], y[s : s + 4])
        right += int(np.sum((ref.layers[-1].A[:, 0] > 0.5) == (y[s : s + 4] == 1)))
        ref.theta -= 0.3 * ref.grad
    assert h.accuracy == [right / 9]


def test_validation_split_holds_out_the_last_rows():
    X, y = datasets.digits()
    X, y = X[:200], y[:200]
    a = cr.Network([cr.Dense(64, 10, "softmax")], loss="cross_entropy", seed=0)
    b = a.copy()
    ha = a.fit(X, y, optimizer=cr.SGD(0.1), epochs=3, validation_split=0.25, shuffle=False, progress=False)
    hb = b.fit(X[:150], y[:150], optimizer=cr.SGD(0.1), epochs=3, validation_data=(X[150:], y[150:]),
               shuffle=False, progress=False)
    assert ha.val_loss == hb.val_loss and ha.val_accuracy == hb.val_accuracy and ha.loss == hb.loss
    for bad, match in [(1.0, "validation_split"), (-0.1, "validation_split"), ("0.2", "validation_split"),
                       (0.999, "no rows to train")]:
        with pytest.raises(ValueError, match=match):
            a.fit(X[:10], y[:10], epochs=1, validation_split=bad, progress=False)
    with pytest.raises(ValueError, match="not both"):
        a.fit(X, y, epochs=1, validation_split=0.2, validation_data=(X, y), progress=False)


def test_early_stopping_on_validation_accuracy_keeps_the_best_epoch():
    X, y = datasets.digits()
    rng = np.random.default_rng(0)
    Xv, yv = X[:100], rng.integers(0, 10, 100)  # labels unrelated to the rows: accuracy soon stops improving
    net = cr.Network([cr.Dense(64, 16, "relu"), cr.Dense(16, 10, "softmax")], loss="cross_entropy", seed=0)
    h = net.fit(X[100:600], y[100:600], optimizer=cr.SGD(0.1), epochs=200, batch_size=50, validation_data=(Xv, yv),
                early_stopping=cr.EarlyStopping(patience=4, monitor="val_accuracy"), progress=False)
    assert "early stopping: val_accuracy" in h.stop_reason and h.epochs < 200
    best = int(np.argmax(h.val_accuracy))  # the first of the best
    assert h.epochs == best + 1 + 4
    assert np.mean(net.predict(Xv).argmax(axis=1) == yv) == pytest.approx(h.val_accuracy[best])
    train_acc = cr.EarlyStopping(patience=3, monitor="accuracy")
    h = xor_net().fit(XOR_X, XOR_Y, optimizer=cr.SGD(1.0), epochs=300, early_stopping=train_acc, progress=False,
                      diagnostics=False)
    assert None not in h.accuracy  # judged on every epoch, so recorded on every epoch
    with pytest.raises(ValueError, match="classification"):
        cr.Network([cr.Dense(2, 1)], loss="mse").fit(XOR_X, XOR_Y, epochs=2, progress=False,
                                                     early_stopping=cr.EarlyStopping(monitor="accuracy"))
    with pytest.raises(ValueError, match="monitor must be one of"):
        cr.EarlyStopping(monitor="val_acc")


def test_callbacks_must_be_callbacks():
    for bad in (print, [print], "History", [cr.History], 3):
        with pytest.raises(ValueError, match="callbacks must be a list"):
            xor_net().fit(XOR_X, XOR_Y, epochs=1, callbacks=bad, progress=False)


# ---- learning-rate schedules -------------------------------------------------------------------


def _rates(schedule, epochs, lr0=0.5):
    """The rate of each epoch as fit applies it (read by a callback after the schedule's)."""
    used = []

    class Read(cr.Callback):
        def on_epoch_begin(self, trainer, epoch):
            used.append(trainer.optimizer.lr)

    opt = cr.SGD(lr0)
    xor_net().fit(XOR_X, XOR_Y, optimizer=opt, epochs=epochs, callbacks=[schedule, Read()], progress=False,
                  diagnostics=False)
    assert opt.lr == lr0 and used == schedule.lrs  # the optimizer gets its rate back
    return used


SCHEDULES = {
    "step": (lambda: cr.StepLR(step_size=3, gamma=0.5), [0.5 * 0.5 ** (e // 3) for e in range(10)]),
    "exponential": (lambda: cr.ExponentialLR(gamma=0.9), [0.5 * 0.9**e for e in range(10)]),
    "cosine": (lambda: cr.CosineAnnealingLR(T_max=4, eta_min=0.1),
               [0.1 + 0.4 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(10)]),
    "function": (lambda: cr.LearningRateScheduler(lambda epoch: 1.0 / epoch), [1.0 / e for e in range(1, 11)]),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedules_give_their_rates_epoch_by_epoch(name):
    make, expected = SCHEDULES[name]
    np.testing.assert_allclose(_rates(make(), 10), expected, rtol=1e-14)


@pytest.mark.parametrize("name, torch_name, options", [
    ("step", "StepLR", {"step_size": 3, "gamma": 0.5}),
    ("exponential", "ExponentialLR", {"gamma": 0.9}),
    ("cosine", "CosineAnnealingLR", {"T_max": 4, "eta_min": 0.1}),
])
def test_schedules_match_pytorch(name, torch_name, options):
    torch = pytest.importorskip("torch")
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.5)
    scheduler = getattr(torch.optim.lr_scheduler, torch_name)(opt, **options)
    theirs = []
    for _ in range(10):
        theirs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    np.testing.assert_allclose(_rates(SCHEDULES[name][0](), 10), theirs, rtol=1e-12)


def test_a_schedule_changes_the_steps_sgd_takes():
    X, y = np.random.default_rng(0).normal(size=(5, 2)), np.random.default_rng(1).normal(size=(5, 1))
    net = cr.Network([cr.Dense(2, 1)], loss="mse", seed=0)
    ref = net.copy()
    net.fit(X, y, optimizer=cr.SGD(0.2), epochs=4, callbacks=[cr.StepLR(2, 0.1)], progress=False, diagnostics=False)
    for lr in (0.2, 0.2, 0.02, 0.02):
        ref.backward(X, y)
        ref.theta -= lr * ref.grad
    np.testing.assert_allclose(net.theta, ref.theta, rtol=1e-14)


def test_bad_schedules_are_refused_with_the_option_named():
    for make, match in [(lambda: cr.StepLR(0), "step_size"), (lambda: cr.StepLR(2.5), "step_size"),
                        (lambda: cr.ExponentialLR(-0.5), "gamma"), (lambda: cr.ExponentialLR(float("nan")), "gamma"),
                        (lambda: cr.CosineAnnealingLR(0), "T_max"), (lambda: cr.CosineAnnealingLR(5, -1), "eta_min"),
                        (lambda: cr.LearningRateScheduler(0.1), "function")]:
        with pytest.raises(ValueError, match=match):
            make()
    with pytest.raises(ValueError, match="epoch 3"):
        _rates(cr.LearningRateScheduler(lambda e: 0.1 if e < 3 else 0.0), 5)
