"""The thresholds of the checks: module constants. Each check's docstring gives its rule;
docs/diagnostics.md has one row per constant with what was measured to choose it, on which runs."""

INPUT_SCALE = 10.0  # largest feature RMS √mean(x²)
INPUT_SPREAD = 1e4  # largest / smallest non-zero feature RMS
DERIVATIVE_TOL = 1e-4  # |df − numeric| ≤ tol · max(1, |numeric|)
INIT_FACTOR = 10.0  # std(W) / recommended std outside [1/10, 10]
INITIAL_LOSS_FACTOR = 5.0  # first loss / uninformative loss (classification)
VANISHING_RATIO = 1e-3  # ‖∂L/∂W(1)‖ / ‖∂L/∂W(L)‖ below
EXPLODING_RATIO = 1e3  # ‖∂L/∂W(1)‖ / ‖∂L/∂W(L)‖ above, or growth of a layer's norm since epoch 1
DEAD_FRACTION = 0.5  # fraction of a ReLU layer's units never active over the sampled rows
SATURATED_FRACTION = 0.5  # fraction of a hidden sigmoid/tanh layer's activations with f′ < 4% (σ), 2% (tanh) of its peak
UPDATE_HIGH = 0.1  # ‖ΔW‖ / ‖W‖ above (with the loss rising)
BLOWUP = 10.0  # an epoch's loss above this multiple of the starting and the uninformative loss
RISE = 0.2  # the loss back above its best by this fraction of the uninformative loss
UPDATE_LOW = 1e-5  # ‖ΔW‖ / ‖W‖ below (while the loss is still high)
STILL_HIGH = 0.5  # "the loss is still high": above this fraction of the uninformative loss
PLATEAU_WINDOW = 10  # epochs without 1% improvement …
PLATEAU_LEVEL = 0.9  # … while the loss is above this fraction of the uninformative loss
PLATEAU_CEILING = 2.0  # … and below this multiple of it (above, training has blown up, not stalled)
SAMPLED_ROWS = 256  # rows per epoch on which unit statistics are taken
INPUT_ROWS = 4096  # evenly spaced rows on which the feature scales are measured
UPDATE_SAMPLE = 4096  # weights per layer, evenly spaced, on which ‖ΔW‖/‖W‖ is measured
DENSE_EPOCHS = 10  # epochs measured one by one before the schedule thins out (see measured_epoch)
