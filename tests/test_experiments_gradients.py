"""What vanishing-gradients, multi-output, activations and pitfalls exist to show, checked on their
--quick results (the session's `chainrule experiment all --quick`, see conftest.py)."""

import pytest


def test_vanishing_gradients_relu_keeps_the_gradient_that_sigmoid_loses(quick_results):
    r = quick_results("vanishing-gradients")
    ratio = r["grad_norm_ratio_first_to_last"]
    assert set(ratio) == {"sigmoid", "tanh", "relu"}
    deep = max(r["depths"])
    bound = 0.25 ** (deep - 1)
    assert r["sigmoid_bound_ratio"][str(deep)] == pytest.approx(bound)
    # sigmoid: each layer multiplies δ by σ′ ≤ 0.25 (and by Glorot weights of gain ~1), so ~0.25^(L−1)
    assert bound / 10 < ratio["sigmoid"] < bound * 10
    # ReLU and tanh keep the first layer's gradient within a couple of orders of magnitude of the last's
    assert ratio["relu"] > 0.01 and ratio["tanh"] > 0.01
    assert ratio["relu"] > 1000 * ratio["sigmoid"]
    # the shallower sigmoid network loses less, and each depth stays on the bound's scale
    by_depth = r["grad_norm_ratio_first_to_last_by_depth"]
    assert by_depth[str(min(r["depths"]))]["sigmoid"] > 100 * by_depth[str(deep)]["sigmoid"]
    # per-layer norms: one per layer, every run
    assert all(len(v) == deep for v in r["grad_norms_at_init"][str(deep)].values())
    assert all(len(norms) == deep for curve in r["grad_norms_training"].values() for norms in curve)


def test_vanishing_gradients_he_keeps_deep_relu_signals_level_and_xavier_shrinks_them(quick_results):
    init = quick_results("vanishing-gradients")["initialization"]
    xavier, he = init["activation_std"]["Xavier (Glorot uniform)"], init["activation_std"]["He (normal)"]
    assert xavier[-2] < xavier[0] / 100  # ~1/√2 a layer over 18 layers
    assert he[0] / 3 < he[-2] < he[0] * 3
    xd, hd = init["delta_norms"]["Xavier (Glorot uniform)"], init["delta_norms"]["He (normal)"]
    assert xd[0] < xd[-1] / 100 and hd[0] > hd[-1] / 3


def test_vanishing_gradients_clipping_prevents_divergence(quick_results):
    c = quick_results("vanishing-gradients")["clipping"]
    plain, clipped = "no clipping", f"clip_norm = {c['clip_norm']:g}"
    assert c["diverged"] == {plain: True, clipped: False}
    assert c["epochs_run"][plain] < 10 and c["epochs_run"][clipped] == c["epochs"]
    assert c["final_loss"][clipped] < c["initial_loss"][clipped] / 10


def test_vanishing_gradients_batch_norm_and_residual_restore_the_first_layers_gradient(quick_results):
    r = quick_results("vanishing-gradients")["remedies"]
    gain, ratio = r["first_layer_gain_at_init"], r["first_to_last_at_init"]
    # the plain 20-layer sigmoid network keeps ~0.25^19 ≈ 4e-12 of the last layer's gradient; each remedy
    # gives its first layer at least a million times more
    assert ratio["sigmoid, plain"] < 1e-9
    for variant in ("batch norm", "residual", "both"):
        assert gain[f"sigmoid, {variant}"] > 1e6
        assert r["first_layer_gain_training"][f"sigmoid, {variant}"] > 1e6
    # batch normalization brings the first/last ratio to order 1; the plain sigmoid network learns nothing
    assert 0.1 < ratio["sigmoid, batch norm"] < 100
    assert r["test_accuracy"]["sigmoid, plain"] < 0.6 < r["test_accuracy"]["sigmoid, batch norm"]
    # one norm per Dense layer (20), at initialization and on every epoch
    assert all(len(v) == r["depth"] for v in r["grad_norms_at_init"].values())
    assert all(len(v) == r["epochs"] for v in r["grad_norms_training"].values())


def test_vanishing_gradients_exploding_remedies_side_by_side(quick_results):
    r = quick_results("vanishing-gradients")["exploding_remedies"]
    finite = {label: [not o["diverged"] for o in v] for label, v in r["outcome"].items()}
    none, clip, init, warm = finite.values()
    assert not all(none)  # the setup explodes without a remedy
    assert all(clip) and all(init)


def test_multi_output_standardized_targets_balance_the_relative_errors(quick_results):
    r = quick_results("multi-output")
    raw, std = r["relative_rmse"]["raw targets"], r["relative_rmse"]["standardized targets"]
    assert list(raw) == list(std) == ["pm25_ugm3", "ozone_ppm", "no2_ppb"]
    # the raw loss ignores the output measured in hundredths: ozone ends far worse than the others
    assert raw["ozone_ppm"] > 1.0 and raw["ozone_ppm"] > 3 * max(raw["pm25_ugm3"], raw["no2_ppb"])
    assert r["raw_loss_share"]["ozone_ppm"] < 0.01
    # standardized: every output learned (better than its mean), and the spread of relative errors shrinks
    assert max(std.values()) < 0.8
    assert std["ozone_ppm"] < raw["ozone_ppm"] / 4
    spread = r["relative_rmse_spread"]
    assert spread["standardized targets"] < spread["raw targets"] / 2


def test_activations_x_tanh_x_trains_and_the_user_definition_matches_the_builtin(quick_results):
    r = quick_results("activations")
    user = "x·tanh x (user-defined)"
    assert set(r["mean_final_loss"]) == {user, "relu", "tanh", "sigmoid"}
    curve = r["loss_curves"][user]
    assert curve[-1] < curve[0] / 2  # the loss falls
    assert r["mean_final_loss"][user] < 0.4 and r["mean_test_accuracy"][user] > 0.8
    assert r["user_vs_builtin_max_loss_difference"] < 1e-12
    # f′(0) = 0: from tiny weights x·tanh x leaves the start last
    reach = r["small_init"]["epochs_to_threshold"]
    assert reach["tanh"] is not None and (reach[user] is None or reach[user] > 3 * reach["tanh"])


def test_pitfalls_wrong_derivative_and_bias_bug_are_caught(quick_results):
    r = quick_results("pitfalls")
    d = r["wrong_derivative"]
    assert d["first_use_check_raised"] and "disagrees with finite differences" in d["first_use_message"]
    correct, wrong, subtle = d["gradcheck"].values()
    assert correct["passed"] and correct["max_rel_error"] < 1e-6
    assert not wrong["passed"] and wrong["failed"] == ["W1", "b1"]  # the tanh layer, not the one above it
    assert not subtle["passed"] and subtle["max_rel_error"] > 1e-4 and d["subtle_fraction_of_z_beyond_cut"] > 0
    assert r["wrong_derivative_caught"] is True

    b = r["bias_gradient"]["gradcheck"]
    assert b["correct"]["passed"]
    for bug in ("db multiplied by a_prev", "db divided by m twice"):
        assert not b[bug]["passed"] and b[bug]["failed"] == ["b1", "b2"]  # the weights' gradients still pass
    m = r["bias_gradient"]["gradcheck_rows"]
    assert b["db divided by m twice"]["parameters"]["b1"]["factor"] == pytest.approx(1 / m)
    assert r["bias_bug_caught"] is True
    loss = r["bias_gradient"]["final_loss"]
    assert loss["correct"] < min(loss["db multiplied by a_prev"], loss["db divided by m twice"])


def test_pitfalls_softmax_wants_cross_entropy_and_inputs_want_normalizing(quick_results):
    r = quick_results("pitfalls")
    acc = r["softmax_loss"]["test_accuracy"]
    ce, mse, mse_scaled = acc.values()
    assert ce > 0.9 and ce > mse + 0.1 and ce > mse_scaled
    delta = r["softmax_loss"]["output_delta"]
    assert delta["cross_entropy"][-1] > 100 * delta["mse"][-1]  # confidently wrong: mse's delta has vanished
    assert r["cross_entropy_beats_mse"] is True

    n = r["normalization"]
    raw, std = "raw inputs", "standardized inputs"
    assert n["final_loss"][std] < n["final_loss"][raw] - 0.1
    assert n["test_accuracy"][std] > n["test_accuracy"][raw] + 0.1
    assert n["first_layer_grad_norm_epoch_1"][raw] > 1000 * n["first_layer_grad_norm_epoch_1"][std]
    assert r["normalized_trains_better"] is True


def test_pitfalls_per_layer_rates_beat_any_single_rate_in_the_deep_sigmoid_network(quick_results):
    p = quick_results("pitfalls")["per_layer_lr"]
    uniform, balanced, _ = p["final_loss"].values()
    assert balanced < uniform / 2
    assert balanced < min(p["uniform_sweep_final_loss"].values())


def runs_with(found, code):
    return set(found[code]["runs"]) if code in found else set()


def test_diagnostics_name_the_problem_in_the_runs_built_to_have_one(quick_results):
    """The runs built to show a problem report it; the healthy ones report nothing."""
    r = quick_results("vanishing-gradients")
    found = r["diagnostics"]["findings"]
    assert "sigmoid 10 layers" in runs_with(found, "vanishing_gradients")
    exploded = {f"exploding, no remedy, seed {o['seed']}" for o in r["exploding_remedies"]["outcome"]["no remedy"]
                if o["diverged"]}
    assert runs_with(found, "nan_loss") == runs_with(found, "exploding_gradients") == {"clipping: no clipping"} | exploded
    flagged = set().union(*(f["runs"] for f in found.values()))
    assert not flagged & {"tanh 5 layers", "tanh 10 layers", "relu 5 layers", "relu 10 layers"}

    found = quick_results("pitfalls")["diagnostics"]["findings"]
    assert runs_with(found, "bad_derivative") == {"derivative wrong: a(1 − a), check off",
                                                  "derivative subtle: 0 beyond |z| ≥ 3"}
    assert runs_with(found, "loss_activation_mismatch") == {"softmax + mse, η = 0.1", "softmax + mse, η = 0.5 (× K/2)"}
    assert runs_with(found, "unnormalized_inputs") == {"raw inputs"}
    flagged = set().union(*(f["runs"] for f in found.values()))
    assert "standardized inputs" not in flagged and not any(r.startswith("softmax + cross") for r in flagged)

    assert quick_results("multi-output")["diagnostics"]["findings"] == {}
    found = quick_results("activations")["diagnostics"]["findings"]
    assert list(found) == ["init_scale"]  # only the runs from the small 0.01·N(0, 1) weights
    assert all(run.endswith("weights 0.01·N(0, 1)") for run in found["init_scale"]["runs"])
