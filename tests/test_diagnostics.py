"""Diagnostics: every check fires on a case built to have its problem, stays silent on healthy
training, reports each finding once, and never changes what training computes."""

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import datasets, diagnostics
from chainrule.diagnostics import CODES, Finding, check_before, format_findings


def train(net, X, y, **options):
    """(history, the DiagnosticWarnings shown) of net.fit with diagnostics on."""
    options.setdefault("progress", False)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        history = net.fit(X, y, **options)
    return history, [w for w in shown if issubclass(w.category, cr.DiagnosticWarning)]


def problems(findings):
    """The codes of the warning and error findings."""
    return [f.code for f in findings if f.severity != "info"]


def net_of(sizes, activations, loss, seed=0, **layer_options):
    return cr.Network([cr.Dense(a, b, act, **layer_options) for a, b, act in zip(sizes, sizes[1:], activations)],
                      loss=loss, seed=seed)


# ---- healthy training: no false alarms ---------------------------------------------------------


def _standardized(X):
    return datasets.standardize(X)[0]


HEALTHY = {
    "xor": lambda: (net_of([2, 4, 1], ["sigmoid"] * 2, "bce"), *datasets.xor(),
                    dict(optimizer=cr.SGD(1.0), epochs=2000)),
    "moons": lambda: (net_of([2, 16, 1], ["tanh", "sigmoid"], "bce"),
                      _standardized(datasets.moons(500, 0.2, 0)[0]), datasets.moons(500, 0.2, 0)[1],
                      dict(optimizer=cr.Adam(0.01), epochs=300)),
    "digits": lambda: (net_of([64, 128, 10], ["relu", "softmax"], "cross_entropy"), *datasets.digits(),
                       dict(optimizer=cr.SGD(0.1), epochs=20, batch_size=64)),
    "breast_cancer": lambda: (net_of([30, 16, 1], ["relu", "sigmoid"], "bce"),
                              _standardized(datasets.breast_cancer()[0]), datasets.breast_cancer()[1],
                              dict(optimizer=cr.Adam(0.01), epochs=100, batch_size=32)),
    "credit_risk": lambda: (net_of([7, 16, 1], ["tanh", "sigmoid"], "bce"),
                            _standardized(datasets.credit_risk()[0]), datasets.credit_risk()[1],
                            dict(optimizer=cr.Adam(0.01), epochs=60, batch_size=32)),
    "sine": lambda: (net_of([1, 16, 1], ["tanh", "linear"], "mse"), *datasets.sine(200),
                     dict(optimizer=cr.Adam(0.01), epochs=500)),
    "environment": lambda: (net_of([4, 32, 3], ["relu", "linear"], "mse"),
                            _standardized(datasets.environment()[0]), _standardized(datasets.environment()[1]),
                            dict(optimizer=cr.Adam(0.01), epochs=60, batch_size=32)),
}


@pytest.mark.parametrize("case", sorted(HEALTHY))
def test_healthy_training_raises_no_alarm(case):
    net, X, y, options = HEALTHY[case]()
    history, shown = train(net, X, y, **options)
    assert problems(history.findings) == [] and shown == [], [str(f) for f in history.findings]
    assert history.loss[-1] < 0.8 * history.loss[0]  # and it did learn (credit_risk's labels are noisy: 0.70)
    # the statistics the checks read were recorded, one entry per epoch and layer
    for key in ("dead_fraction", "saturated_fraction", "update_ratio"):
        rows = getattr(history.diagnostics, key)
        assert len(rows) == history.epochs and len(rows[0]) == len(net.layers)


# ---- each check fires on a case built to have its problem --------------------------------------


def _digits_net(hidden="relu", init=None):
    """64-32-10 on digits; ``init`` for the hidden layer only."""
    return cr.Network([cr.Dense(64, 32, hidden, init=init), cr.Dense(32, 10, "softmax")], loss="cross_entropy", seed=0)


def _bad_derivative():
    # right on the 6 points Activation.verify tries (|z| < 3), wrong by 0.05 where |z| > 4
    act = cr.Activation("mytanh", np.tanh, lambda z: 1 - np.tanh(z) ** 2 + 0.05 * (np.abs(z) > 4))
    X, y = datasets.moons()
    return cr.Network([cr.Dense(2, 8, act), cr.Dense(8, 1, "sigmoid")], loss="bce", seed=0), _standardized(X), y, {}


def _symmetric():
    layers = [cr.Dense(2, 4, "sigmoid", init=np.full((2, 4), 0.5)), cr.Dense(4, 1, "sigmoid", init=np.full((4, 1), 0.5))]
    return cr.Network(layers, loss="bce"), *datasets.xor(), dict(optimizer=cr.SGD(1.0), epochs=20)


def _exploding():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    # a linear regression whose full-batch SGD step is past the stability limit 2/λ_max: each
    # epoch multiplies the error, and the gradient, by about 3
    return net_of([5, 16, 1], ["linear"] * 2, "mse"), X, X @ rng.normal(size=5), dict(optimizer=cr.SGD(0.3), epochs=6)


Xd, yd = datasets.digits()
Xc, yc = datasets.credit_risk()
Xs, ys = datasets.sine()
PROBLEMS = {
    # code: a (net, X, y, fit options) built to have that problem
    "unnormalized_inputs": lambda: (net_of([7, 16, 1], ["tanh", "sigmoid"], "bce"), Xc, yc,
                                    dict(optimizer=cr.Adam(0.01), batch_size=32)),
    "target_range": lambda: (net_of([1, 16, 1], ["tanh", "sigmoid"], "mse"), Xs, 2 * ys, {}),
    "loss_activation_mismatch": lambda: (net_of([64, 32, 10], ["relu", "softmax"], "mse"), Xd, np.eye(10)[yd], {}),
    "bad_derivative": _bad_derivative,
    "symmetric_init": _symmetric,
    "init_scale": lambda: (_digits_net(init="small_normal"), Xd, yd, dict(optimizer=cr.SGD(0.1), batch_size=64)),
    # randn weights (the lab's): within 10× of He and Glorot per layer, but together the logits start
    # far too large — 18× ln 10
    "initial_loss": lambda: (net_of([64, 32, 10], ["relu", "softmax"], "cross_entropy", init="standard_normal"),
                             Xd, yd, dict(optimizer=cr.SGD(0.01), batch_size=64)),
    "vanishing_gradients": lambda: (net_of([64] + [32] * 7 + [10], ["sigmoid"] * 7 + ["softmax"], "cross_entropy"),
                                    Xd, yd, dict(optimizer=cr.SGD(0.1), batch_size=64, epochs=2)),
    "exploding_gradients": _exploding,
    "dead_relu": lambda: (_digits_net(), Xd, yd, dict(optimizer=cr.SGD(3.0), batch_size=64)),
    "saturation": lambda: (_digits_net("tanh", init="standard_normal"), 16 * Xd, yd,
                           dict(optimizer=cr.SGD(0.01), batch_size=64)),
    "lr_too_high": lambda: (net_of([2, 16, 1], ["tanh", "sigmoid"], "bce"), _standardized(datasets.moons()[0]),
                            datasets.moons()[1], dict(optimizer=cr.SGD(30.0))),
    "lr_too_low": lambda: (_digits_net(), Xd, yd, dict(optimizer=cr.SGD(1e-5), batch_size=64)),
    "plateau": lambda: (net_of([2, 4, 1], ["sigmoid"] * 2, "bce"), *datasets.xor(),
                        dict(optimizer=cr.SGD(0.1), epochs=100)),
    # a batch-normalized input of which one column never varies
    "constant_feature": lambda: (cr.Network([cr.BatchNorm(3), cr.Dense(3, 8, "tanh"), cr.Dense(8, 1, "sigmoid")],
                                            loss="bce", seed=0),
                                 np.column_stack([_standardized(datasets.moons()[0]), np.ones(len(datasets.moons()[0]))]),
                                 datasets.moons()[1], dict(optimizer=cr.Adam(0.01), batch_size=32)),
}
SEVERITY = {"target_range": "error", "bad_derivative": "error", "symmetric_init": "error"}


@pytest.mark.parametrize("code", sorted(PROBLEMS))
def test_each_check_fires_on_its_problem_once(code):
    net, X, y, options = PROBLEMS[code]()
    options = {"epochs": 5, **options}
    history, shown = train(net, X, y, **options)
    found = [f for f in history.findings if f.code == code]
    assert len(found) == 1, [str(f) for f in history.findings]  # once, not every epoch
    f = found[0]
    assert f.severity == SEVERITY.get(code, "warning")
    assert f.message.endswith(".") and f.fix
    if f.threshold is not None and f.value is not None:
        assert f.value != f.threshold
    # shown once on the terminal, pointing at the caller's line
    mine = [w for w in shown if f"[{code}]" in str(w.message)]
    assert len(mine) == 1 and mine[0].filename == __file__


def test_every_public_code_has_a_case():
    assert set(PROBLEMS) | {"nan_loss"} == set(CODES)  # nan_loss: the tests below


@pytest.mark.parametrize("output, loss, severity", [
    ("linear", "bce", "error"),      # not a probability
    ("relu", "bce", "error"),
    ("softmax", "mse", "warning"),   # classification trained with mse (softmax over 2 outputs)
    ("sigmoid", "mse", "warning"),
    ("sigmoid", "cross_entropy", "warning"),
    ("sigmoid", "hinge", "warning"),
])
def test_loss_activation_mismatches(output, loss, severity):
    X, y = datasets.xor()
    n_out = 2 if output == "softmax" or loss == "cross_entropy" else 1
    net = net_of([2, 4, n_out], ["tanh", output], loss)
    if loss == "hinge":
        y = 2 * y - 1
    elif loss == "mse" and n_out == 2:
        y = np.eye(2)[y]
    found = [f for f in check_before(net, *net.check_data(X, y)) if f.code == "loss_activation_mismatch"]
    assert [f.severity for f in found] == [severity]


def test_softmax_over_one_output_is_an_error():
    net = net_of([2, 4, 1], ["tanh", "softmax"], "mse")
    X, y = datasets.xor()
    assert [(f.code, f.severity) for f in check_before(net, *net.check_data(X, y * 0.5))] == [
        ("loss_activation_mismatch", "error")]


def test_a_mismatch_that_cannot_train_is_shown_before_the_value_error():
    net = net_of([2, 4, 1], ["tanh", "linear"], "bce")
    with pytest.warns(cr.DiagnosticWarning, match="loss_activation_mismatch"), pytest.raises(ValueError, match="bce"):
        net.fit(*datasets.xor(), progress=False)


def test_targets_out_of_reach_of_tanh_and_relu():
    X, y = datasets.sine()
    for output, targets in (("tanh", 3 * y), ("relu", y)):
        net = net_of([1, 8, 1], ["tanh", output], "mse")
        found = check_before(net, *net.check_data(X, targets))
        assert [f.code for f in found if f.severity == "error"] == ["target_range"], output
    net = net_of([1, 8, 1], ["tanh", "tanh"], "mse")  # inside (−1, 1): reachable
    assert check_before(net, *net.check_data(X, 0.9 * y)) == []


def test_a_derivative_wrong_everywhere_is_found_before_training():
    act = cr.Activation("wrong", np.tanh, lambda z: np.ones_like(z))
    net = cr.Network([cr.Dense(2, 4, act), cr.Dense(4, 1, "sigmoid")], loss="bce")
    found = check_before(net, *net.check_data(*datasets.xor()))
    assert [(f.code, f.layer) for f in found] == [("bad_derivative", 1)]
    good = cr.Activation("xtanh2", lambda z: z * np.tanh(z), lambda z: np.tanh(z) + z * (1 - np.tanh(z) ** 2))
    net = cr.Network([cr.Dense(2, 4, good), cr.Dense(4, 1, "sigmoid")], loss="bce")
    assert check_before(net, *net.check_data(*datasets.xor())) == []


def test_some_copied_units_are_a_warning():
    W = np.random.default_rng(0).normal(size=(2, 4))
    W[:, 1] = W[:, 0]
    V = np.random.default_rng(1).normal(size=(4, 1))
    V[1] = V[0]
    net = cr.Network([cr.Dense(2, 4, "tanh", init=W), cr.Dense(4, 1, "sigmoid", init=V)], loss="bce")
    found = [f for f in check_before(net, *net.check_data(*datasets.xor())) if f.code == "symmetric_init"]
    assert [(f.severity, f.value) for f in found] == [("warning", 3.0)]
    V[1] = -V[0]  # same weights in, different weights out: gradients differ, the symmetry breaks
    net = cr.Network([cr.Dense(2, 4, "tanh", init=W), cr.Dense(4, 1, "sigmoid", init=V)], loss="bce")
    assert not [f for f in check_before(net, *net.check_data(*datasets.xor())) if f.code == "symmetric_init"]


def test_input_scales_differing_by_orders_of_magnitude():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2)) * [1.0, 1e-5]  # both small, four orders of magnitude apart
    net = net_of([2, 4, 1], ["tanh", "sigmoid"], "bce")
    found = check_before(net, *net.check_data(X, X[:, 0] > 0))
    assert [f.code for f in found] == ["unnormalized_inputs"] and found[0].threshold == diagnostics.thresholds.INPUT_SPREAD


# ---- NaN and inf -------------------------------------------------------------------------------


def test_overflow_names_the_layer_and_the_operation():
    rng = np.random.default_rng(0)
    X, y = _standardized(datasets.moons()[0]), 2 * datasets.moons()[1] - 1
    W1, W2 = 1e10 * rng.normal(size=(2, 8)), 1e300 * rng.uniform(1, 2, size=(8, 1))  # z2 = a1 W2 ≥ 1e310
    net = cr.Network([cr.Dense(2, 8, "relu", init=W1), cr.Dense(8, 1, init=W2)], loss="hinge")
    before = net.theta.copy()
    history, shown = train(net, X, y, optimizer=cr.SGD(0.1), epochs=5)
    [f] = [f for f in history.findings if f.code == "nan_loss"]
    assert f.severity == "error" and f.epoch == 1 and f.layer == 2
    assert "z of layer 2 (the product a1 @ W2 + b2) overflowed to inf" in f.message
    assert "z of layer 2" in history.stop_reason and history.epochs == 0
    assert [str(w.message) for w in shown if "nan_loss" in str(w.message)] == [str(f)]
    np.testing.assert_array_equal(net.theta, before)  # the bad step was not applied


def test_divergence_keeps_the_weights_of_the_step_before():
    net, X, y, options = _exploding()
    options["epochs"] = 100
    history, _ = train(net, X, y, **options)
    [f] = [f for f in history.findings if f.code == "nan_loss"]
    stopped = f.epoch
    assert stopped > 3 and history.epochs == stopped - 1
    assert all(np.isfinite(p).all() for _, _, p, _, _ in net.parameters())
    # full batch: one step per epoch, so the weights before the bad step are those after epoch stopped − 1
    ref, *_ = _exploding()
    ref.fit(X, y, optimizer=cr.SGD(0.3), epochs=stopped - 1, progress=False, diagnostics=False)
    np.testing.assert_array_equal(net.theta, ref.theta)


def test_locate_nonfinite_walks_the_pass_in_order():
    net = net_of([2, 3, 1], ["tanh", "linear"], "mse")
    X, y = datasets.xor()
    net.backward(X, y)
    assert diagnostics.locate_nonfinite(net) == "no value of the last pass is non-finite now"
    net.layers[1].Z[0, 0] = np.nan  # as if z2 had gone NaN
    assert diagnostics.locate_nonfinite(net).startswith("z of layer 2 (the product a1 @ W2 + b2) became NaN")
    net.backward(X, y)
    net.layers[0].delta[1, 2] = np.inf
    assert diagnostics.locate_nonfinite(net).startswith("δ1 = (δ2 W2ᵀ) ⊙ f′(z1) of layer 1 overflowed to inf")


# ---- the switch, the History and the report ----------------------------------------------------


def test_diagnostics_change_nothing_that_training_computes():
    X, y = datasets.digits()
    runs = []
    for on in (True, False):
        net = net_of([64, 16, 10], ["relu", "softmax"], "cross_entropy", seed=3)
        h = net.fit(X[:300], y[:300], optimizer=cr.SGD(0.1, momentum=0.9), epochs=3, batch_size=32,
                    progress=False, diagnostics=on)
        runs.append((net.theta.copy(), h.loss, h.diagnostics))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    assert len(runs[0][2].dead_fraction) == 3 and runs[1][2] is None  # off: no statistics either


def test_diagnostics_off_shows_and_keeps_nothing():
    net, X, y, options = PROBLEMS["dead_relu"]()
    with warnings.catch_warnings():
        warnings.simplefilter("error", cr.DiagnosticWarning)
        history = net.fit(X, y, epochs=3, progress=False, diagnostics=False, **options)
    assert history.findings == []


def test_history_keeps_the_findings_and_the_statistics():
    net, X, y, options = PROBLEMS["init_scale"]()
    history, _ = train(net, X, y, epochs=2, **options)
    finding = history.findings[0].as_dict()
    assert finding["code"] == "init_scale" and finding["layer"] == 1
    stats = history.diagnostics.as_dict()
    assert set(stats) == {"dead_fraction", "saturated_fraction", "update_ratio", "layer_statistics"}
    dead, saturated, ratio = stats["dead_fraction"][0], stats["saturated_fraction"][0], stats["update_ratio"][0]
    assert dead[0] is not None and dead[1] is None  # layer 1 ReLU; the softmax output has no dead units
    assert saturated == (None, None)
    assert all(0 < r < 1 for r in ratio)


def test_format_findings_is_a_table():
    findings = [Finding("dead_relu", "warning", 0.62, 0.5, "Most units died.", "Lower the rate.", epoch=3, layer=1),
                Finding("nan_loss", "error", None, None, "It overflowed.", "Clip.", epoch=4)]
    text = format_findings(findings)
    lines = text.splitlines()
    assert lines[0].split() == ["code", "severity", "layer", "epoch", "value", "threshold"]
    assert lines[2].split() == ["dead_relu", "warning", "1", "3", "0.62", "0.5"]
    assert "cause: Most units died." in text and "fix:   Clip." in text
    assert format_findings([]).startswith("no findings")


def test_finding_rejects_unknown_codes_and_severities():
    with pytest.raises(ValueError, match="unknown finding code"):
        Finding("bad_code", "warning")
    with pytest.raises(ValueError, match="severity"):
        Finding("plateau", "fatal")


def test_diagnose_skips_training_after_an_error_before_it():
    net = net_of([2, 4, 1], ["tanh", "linear"], "bce")
    findings, history = cr.diagnose(net, *datasets.xor())
    assert history is None and [f.code for f in findings] == ["loss_activation_mismatch"]
    net = net_of([2, 4, 1], ["sigmoid"] * 2, "bce")
    with warnings.catch_warnings():
        warnings.simplefilter("error", cr.DiagnosticWarning)  # diagnose reports, it does not warn
        findings, history = cr.diagnose(net, *datasets.xor(), optimizer=cr.SGD(0.1), epochs=100)
    assert [f.code for f in findings] == ["plateau"] and history.epochs == 100


# ---- the schedule of measured epochs ---------------------------------------------------------


def test_measured_epochs_thin_out_about_ten_per_doubling():
    measured = [e for e in range(1, 101) if diagnostics.measured_epoch(e)]
    assert measured == list(range(1, 21)) + list(range(22, 41, 2)) + list(range(44, 81, 4)) + [88, 96]
    assert sum(map(diagnostics.measured_epoch, range(1, 10_001))) == 109


def test_unmeasured_epochs_hold_none_and_a_long_run_stays_cheap():
    X, y = datasets.xor()
    net = net_of([2, 4, 1], ["sigmoid", "sigmoid"], "bce")
    history, _ = train(net, X, y, optimizer=cr.SGD(1.0), epochs=300)
    for e, ratios in enumerate(history.diagnostics.update_ratio, start=1):
        assert (ratios[0] is not None) == diagnostics.measured_epoch(e), e
        assert ratios[0] is None or ratios[0] > 0, e  # a measured epoch measures its first step


def test_a_climb_between_measured_epochs_is_still_seen():
    # sin x with a tanh layer at η = 0.1: near epoch 1000 its loss jumps from about 0.006 back to
    # 0.2, between two epochs of the schedule (640, 704, …, 1024); the climb makes the next epoch a
    # measured one, off the schedule
    X, y = datasets.sine(200)
    net = net_of([1, 16, 1], ["tanh", "linear"], "mse")
    history, _ = train(net, X, y, optimizer=cr.SGD(0.1), epochs=1100)
    jump = int(np.argmax(np.diff(history.loss))) + 2  # the epoch whose loss rose the most
    [f] = [f for f in history.findings if f.code == "lr_too_high"]
    assert not diagnostics.measured_epoch(f.epoch) and abs(f.epoch - jump) <= 5
    assert "climbed back" in f.message


def test_all_zero_targets_in_the_sample_do_not_break_the_checks():
    # the uninformative loss of an mse output is mean y², 0 here: no check may divide by it
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((250, 3)), np.zeros(250)
    net = net_of([3, 4, 1], ["tanh", "linear"], "mse")
    history, _ = train(net, X, y, optimizer=cr.SGD(1e-9), epochs=30)
    assert history.epochs == 30 and "plateau" not in problems(history.findings)


def test_a_run_that_blew_up_is_not_called_a_plateau():
    X, y = datasets.moons()
    net = net_of([2, 16, 1], ["tanh", "sigmoid"], "bce")
    history, _ = train(net, _standardized(X), y, optimizer=cr.SGD(1e9), epochs=30)
    codes = problems(history.findings)
    assert "lr_too_high" in codes and "plateau" not in codes


@pytest.mark.parametrize("shape", [(1024, 64), (2048, 256), (512, 512), (4096, 10), (3, 4)])
def test_the_watched_weights_reach_every_output_unit(shape):
    W = np.zeros(shape)
    k = diagnostics.monitor._stride(W)
    columns = {i % shape[1] for i in range(0, W.size, k)}
    assert W.size // k <= diagnostics.thresholds.UPDATE_SAMPLE + 1 and len(columns) == shape[1]


@pytest.mark.filterwarnings("ignore::chainrule.DiagnosticWarning")  # lr_too_low: the SGD is a stand-in
def test_only_a_climb_on_an_unmeasured_epoch_adds_a_measured_epoch():
    # a loss curve written by hand: a spike on epoch 40 (on the schedule: checked there) adds
    # nothing; a spike on epoch 45 (off it) makes epoch 46 a measured one
    X, y = datasets.xor()
    net = net_of([2, 4, 1], ["sigmoid", "sigmoid"], "bce")
    X, Y = net.check_data(X, y)
    history, monitor = cr.History(), diagnostics.Diagnostics()
    measured = []

    class HandWrittenLoss(cr.Callback):
        """Between the History and the diagnostics: the epoch's loss replaced by the curve above."""

        def on_epoch_begin(self, trainer, epoch):
            measured.append(monitor.measuring)

        def on_epoch_end(self, trainer, epoch, logs):
            history.loss[-1] = logs["loss"] = 0.6 * 0.99**epoch + (0.5 if epoch in (40, 45) else 0.0)

    trainer = cr.training.Trainer(net, cr.SGD(1e-6), X, Y, 80, 4, False, None, [history, HandWrittenLoss(), monitor])
    trainer.run()
    schedule = {e for e in range(1, 81) if diagnostics.measured_epoch(e)}
    assert 40 in schedule and 45 not in schedule
    assert {e for e, m in enumerate(measured, start=1) if m} == schedule | {46}
    ratios = history.diagnostics.update_ratio
    assert len(ratios) == 80
    assert ratios[45][0] is not None and ratios[46] == (None, None)  # epochs 46, 47


def test_the_starting_loss_is_taken_on_one_batch_spread_over_the_data():
    # only the last 10 of 100 rows make the outputs confidently wrong: the first 64 rows would miss
    # them; one batch of 64 rows spread over all 100 does not, and it runs in the buffers for a
    # batch of 64 (the ones fit trains in), not in buffers of a size of its own
    rng = np.random.default_rng(0)
    X = np.zeros((100, 4))
    X[90:] = 300 * rng.standard_normal((10, 4))
    y = rng.integers(0, 3, 100)
    net = net_of([4, 8, 3], ["relu", "softmax"], "cross_entropy")
    X, Y = net.check_data(X, y)
    assert "initial_loss" in problems(check_before(net, X, Y, batch_size=64))
    assert list(net._workspaces) == [64]
    assert "initial_loss" not in problems(check_before(net, X[:90], Y[:90], batch_size=64))


@pytest.mark.parametrize("batch_size", [0, -5, 2.5, True])
def test_a_bad_batch_size_gets_fits_message_before_any_check(batch_size):
    X, y = datasets.xor()
    net = net_of([2, 4, 1], ["sigmoid"] * 2, "bce")
    for call in (lambda: diagnostics.diagnose(net, X, y, batch_size=batch_size),
                 lambda: check_before(net, *net.check_data(X, y), batch_size=batch_size)):
        with pytest.raises(ValueError, match="batch_size must be None"):
            call()


def _codes(net, X, y, **options):
    history, _ = train(net, X, y, epochs=1, **options)
    return [f.code for f in history.findings]


def test_init_scale_judges_initial_weights_only(tmp_path):
    """The small 0.01·N(0, 1) start is found; once the network has trained (its weights no longer the
    initializer's), a second fit of it, a copy of it, or the same weights read from a file, is not
    told to re-initialize, even where the weights are still that small."""
    net, X, y, options = PROBLEMS["init_scale"]()
    options["optimizer"] = cr.SGD(1e-9)  # steps that leave the weights as small as they started
    assert "init_scale" in _codes(net, X, y, **options)
    assert net.initial_weights is False
    assert "init_scale" not in _codes(net, X, y, **options)
    assert "init_scale" not in _codes(net.copy(np.float32), X, y, **options)
    net.save(tmp_path / "m.npz")
    loaded = cr.load(tmp_path / "m.npz")
    assert loaded.initial_weights is False and "init_scale" not in _codes(loaded, X, y, **options)
    fresh = _digits_net(init="small_normal")
    fresh.theta[...] = loaded.theta  # the same arrays in a network built with them: judged
    assert "init_scale" in _codes(fresh, X, y, **options)
