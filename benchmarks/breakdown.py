"""Where a workload's time goes, layer by layer of the library, as ratios to the floor.

    python benchmarks/breakdown.py [--workload W1|W2|W3] [--dtype float64|float32] [--rounds 15]

Each line adds one layer to the one before, all timed round-robin in one process (CPU time, one
BLAS thread), medians over the rounds; the workloads and the floor are bench.py's:

  floor            the matrix products of the steps (bench.py's floor)
  flat NumPy       W3 only: the whole step written as one function of local variables, the bias
                   folded into the weights (a column of ones in the inputs), with the loss, accuracy
                   and gradient norms that fit records: about the least a NumPy step can cost
  engine step      Network.backprop + SGD.step per batch: forward pass, loss, delta recurrence, update
  loop             training.Trainer with no callbacks: the same plus the loss, accuracy, gradient
                   norms and finite checks of the epochs that record them
  fit, diag. off   Network.fit(..., diagnostics=False): the same plus the History and the data checks
  fit              Network.fit as users call it (diagnostics on)

On W3's batch of four rows every NumPy call costs about as much as the arithmetic in it, so its
ratios count calls and Python.
"""

import argparse
import math
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

import chainrule as cr
import bench
from bench import LR, init_weights, make_floor, make_network, workloads
from chainrule.training import Trainer



def make_flat(X, y, dtype):
    """One training step of 2-4-1 sigmoid/bce as a single function of preallocated locals."""
    m = len(X)
    W1, W2 = init_weights([2, 4, 1], dtype)
    theta = np.concatenate([W1.ravel(), np.zeros(4), W2.ravel(), np.zeros(1)]).astype(dtype)
    grad = np.zeros_like(theta)
    W1a, W2a = theta[:12].reshape(3, 4), theta[12:].reshape(5, 1)  # [W; b]
    dW1a, dW2a = grad[:12].reshape(3, 4), grad[12:].reshape(5, 1)
    dW1, dW2, W2 = dW1a[:2], dW2a[:4], W2a[:4]
    Xa = np.ones((m, 3), dtype)
    Xa[:, :2] = X
    Y = y.reshape(-1, 1).astype(dtype)
    one_minus_y, y_pos = 1 - Y, Y > 0.5
    Z1, A1a, S1, D1 = np.empty((m, 4), dtype), np.ones((m, 5), dtype), np.empty((m, 4), dtype), np.empty((m, 4), dtype)
    A1 = A1a[:, :4]
    Z2, A2, S2, P2, D2 = (np.empty((m, 1), dtype) for _ in range(5))
    zero, one, half, lr = (np.full((), v, dtype) for v in (0, 1, 0.5, LR))
    inv_m = np.full((), 1 / m, dtype)
    step_buf, hits = np.empty_like(theta), np.empty((m, 1), bool)

    def step():
        np.dot(Xa, W1a, out=Z1)  # z1 = [x, 1] [W1; b1]
        np.negative(Z1, out=A1)  # a1 = σ(z1) = exp(−softplus(−z1))
        np.logaddexp(zero, A1, out=A1)
        np.negative(A1, out=A1)
        np.exp(A1, out=A1)
        np.dot(A1a, W2a, out=Z2)
        np.negative(Z2, out=S2)  # S2 = softplus(−z2) = −log a2
        np.logaddexp(zero, S2, out=S2)
        np.negative(S2, out=A2)
        np.exp(A2, out=A2)
        np.logaddexp(zero, Z2, out=P2)  # P2 = softplus(z2) = −log(1 − a2)
        # L = mean[y softplus(−z) + (1 − y) softplus(z)], each term accurate, as chainrule's bce
        loss = (float(np.vdot(Y, S2)) + float(np.vdot(one_minus_y, P2))) / m
        np.subtract(A2, Y, out=D2)  # δ2 = (a2 − y)/m
        np.multiply(D2, inv_m, out=D2)
        np.dot(A1a.T, D2, out=dW2a)  # [dW2; db2]
        np.dot(D2, W2.T, out=D1)
        np.subtract(one, A1, out=S1)  # δ1 = δ2 W2ᵀ ⊙ a1(1 − a1)
        np.multiply(S1, A1, out=S1)
        np.multiply(D1, S1, out=D1)
        np.dot(Xa.T, D1, out=dW1a)  # [dW1; db1]
        np.greater(A2, half, out=hits)
        correct = np.count_nonzero(hits == y_pos)
        norms = math.sqrt(np.vdot(dW1, dW1)), math.sqrt(np.vdot(dW2, dW2))
        np.multiply(grad, lr, out=step_buf)  # θ ← θ − η g
        np.subtract(theta, step_buf, out=theta)
        return loss, correct, norms

    def run():
        for _ in range(1000):
            step()

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=["W1", "W2", "W3"], default="W3")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    dtype = np.dtype(args.dtype).type
    threadpool_limits(1)
    bench.CLOCK = time.process_time  # CPU time, as bench.py --cpu-time
    warnings.simplefilter("ignore", cr.DiagnosticWarning)  # W3's lr 0.01 learns little in 1000 steps: a plateau
    w = workloads(quick=False)[args.workload]
    X, y = w["X"].astype(dtype), w["y"]
    sizes, m = w["sizes"], w["batch"] or len(X)
    epochs = w["steps"] or 1
    nets = [make_network(w, dtype) for _ in range(3)]  # engine step, loop, fit
    Xc, Yc = nets[0].check_data(X, y)
    batches = [(Xc[s : s + m], Yc[s : s + m]) for s in range(0, len(Xc), m)] * epochs
    opt = cr.SGD(LR)

    def engine():
        for Xb, Yb in batches:
            nets[0].backprop(Xb, Yb, nets[0].workspace(len(Xb)))
            opt.step(nets[0])

    def loop():
        Trainer(nets[1], opt, Xc, Yc, epochs, m, False, None, []).run()

    options = dict(optimizer=opt, epochs=epochs, batch_size=w["batch"], shuffle=False, progress=False)
    runners = {"floor": make_floor(w, dtype)}
    if args.workload == "W3":
        runners["flat NumPy"] = make_flat(X, y, dtype)
    runners.update({
        "engine step": engine,
        "loop": loop,
        "fit, diag. off": lambda: nets[2].fit(X, y, diagnostics=False, **options),
        "fit": lambda: nets[2].fit(X, y, **options),
    })
    medians, _ = bench.round_robin(runners, args.rounds)
    floor, steps = medians["floor"], len(batches)
    print(f"{args.workload} {args.dtype} ({'-'.join(map(str, sizes))}, {steps} steps), {args.rounds} rounds, CPU time, "
          "one BLAS thread; per step and as a ratio to the floor")
    for name, med in medians.items():
        print(f"  {name:<16}{med / steps * 1e6:9.1f} µs {med / floor:6.2f}×")


if __name__ == "__main__":
    main()
