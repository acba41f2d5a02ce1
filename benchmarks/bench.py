"""Speed and memory of chainrule's training, as ratios to the matrix-multiply floor measured in the
same run.

    python benchmarks/bench.py [--quick] [--repeats 9] [--budget 20] [--out benchmarks/results.json]
                               [--blas-threads N] [--cpu-time]

Workloads (plain SGD, lr 0.01, no momentum, no decay, no shuffling; the same work for everyone):
  W1  digits 64-128-10, ReLU, softmax + cross-entropy, batch 64, one epoch
  W2  784-256-256-10, ReLU, softmax + cross-entropy, 60,000 random rows, batch 128, one epoch
  W3  XOR 2-4-1 sigmoid, bce, full batch, 1000 steps

Contenders, timed round-robin (one run of each per round), medians over the rounds — at least
``--repeats`` of them, and as many as fit in ``--budget`` seconds per workload and dtype:
  floor       only the matrix products one training step needs — A@W per layer, Aᵀ@δ per layer,
              δ@Wᵀ for every layer but the first — into preallocated buffers, by np.dot(…, out=):
              on small matrices about 1 µs a call less than np.matmul, the same BLAS product
  chainrule   Network.fit as users call it (progress off)
  bare        the engine's bare step, Network.backprop + SGD.step, in a loop over the same batches
  numpy       a plain NumPy training loop written the way the seeds write it
  sklearn     MLPClassifier.partial_fit (sgd, momentum 0, alpha 0, shuffle off)
  torch       PyTorch eager mode on the CPU, when torch is installed

Also measured: the cost of shuffling every epoch (W2), peak memory while training W2 against the
bound data + 1.3 × (parameters + gradients + optimizer state + one batch's activations and deltas),
and a scaling table (epoch time and ratio to the floor as width and batch size grow).
"""

import argparse
import json
import os

# PyTorch's OpenMP threads otherwise spin after each op and slow whichever contender runs next
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import platform
import statistics
import sys
import time
import tracemalloc
import warnings

import numpy as np

import chainrule as cr
from chainrule import files

LR = 0.01


# ---- workloads ------------------------------------------------------------------------------


def workloads(quick):
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(0)
    n2 = 6000 if quick else 60000
    return {
        "W1": dict(sizes=[64, 128, 10], hidden="relu", X=digits.data / 16.0, y=digits.target, batch=64, steps=None),
        "W2": dict(sizes=[784, 256, 256, 10], hidden="relu", X=rng.random((n2, 784)), y=rng.integers(0, 10, n2),
                   batch=128, steps=None),
        "W3": dict(sizes=[2, 4, 1], hidden="sigmoid", X=np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float),
                   y=np.array([0, 1, 1, 0]), batch=None, steps=1000),
    }


def n_steps(w):
    """Training steps one timed run makes."""
    return w["steps"] if w["steps"] else -(-len(w["X"]) // w["batch"])


def output_activation(w):
    return "sigmoid" if w["sizes"][-1] == 1 else "softmax"


def init_weights(sizes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.uniform(-1, 1, (a, b)) * np.sqrt(6 / (a + b))).astype(dtype) for a, b in zip(sizes, sizes[1:])]


# ---- contenders: each returns a function that runs one timed unit of work ---------------------


def make_floor(w, dtype):
    """The matrix products of one training step, into preallocated buffers, step after step over
    the data's batches (read in place, as any trainer must read them)."""
    sizes = w["sizes"]
    X = w["X"].astype(dtype)
    m = w["batch"] or len(X)
    Ws = init_weights(sizes, dtype)
    rng = np.random.default_rng(1)
    A = [None] + [rng.random((m, s)).astype(dtype) for s in sizes[1:]]  # a(l), A[0] the batch
    D = [rng.random((m, s)).astype(dtype) * 0.01 for s in sizes]         # δ(l), and δ(l) W(l)ᵀ targets
    dW = [np.empty_like(W) for W in Ws]
    starts = [0] * w["steps"] if w["steps"] else range(0, len(X), m)

    def run():
        for s in starts:
            k = min(m, len(X) - s)  # the last batch may be short
            a = [X[s : s + k]] + [buf[:k] for buf in A[1:]]
            d = [buf[:k] for buf in D]
            for l, W in enumerate(Ws):
                np.dot(a[l], W, out=a[l + 1])
            for l in reversed(range(len(Ws))):
                np.dot(a[l].T, d[l + 1], out=dW[l])
                if l > 0:
                    np.dot(d[l + 1], Ws[l].T, out=d[l])

    return run


def make_network(w, dtype):
    """The workload's network in chainrule, with the weights every contender starts from."""
    sizes = w["sizes"]
    acts = [w["hidden"]] * (len(sizes) - 2) + [output_activation(w)]
    loss = "bce" if sizes[-1] == 1 else "cross_entropy"
    layers = [cr.Dense(a, b, act, init=W) for (a, b), act, W in zip(zip(sizes, sizes[1:]), acts, init_weights(sizes, np.float64))]
    return cr.Network(layers, loss=loss, seed=0, dtype=dtype)


def make_chainrule(w, dtype, shuffle=False, diagnostics=True):
    net = make_network(w, dtype)
    X, y = w["X"].astype(dtype), w["y"]
    epochs = w["steps"] or 1
    opt = cr.SGD(LR)

    def run():
        net.fit(X, y, optimizer=opt, epochs=epochs, batch_size=w["batch"], shuffle=shuffle, progress=False,
                diagnostics=diagnostics)

    return run


def make_bare(w, dtype):
    """The engine's step and nothing else: backward pass and SGD update over the batches, which are
    checked and sliced once, outside the timing."""
    net = make_network(w, dtype)
    X, Y = net.check_data(w["X"].astype(dtype), w["y"])
    m = w["batch"] or len(X)
    batches = [(X[s : s + m], Y[s : s + m]) for s in range(0, len(X), m)] * (w["steps"] or 1)
    opt = cr.SGD(LR)

    def run():
        for Xb, Yb in batches:
            net.backprop(Xb, Yb, net.workspace(len(Xb)))
            opt.step(net)

    return run


def make_numpy(w, dtype):
    """A straightforward NumPy loop, the seeds' style: fresh arrays every step."""
    sizes = w["sizes"]
    Ws = init_weights(sizes, dtype)
    bs = [np.zeros(s, dtype) for s in sizes[1:]]
    X = w["X"].astype(dtype)
    k = sizes[-1]
    Y = (w["y"].reshape(-1, 1) if k == 1 else np.eye(k)[w["y"]]).astype(dtype)
    sigmoid_hidden = w["hidden"] == "sigmoid"

    def step(Xb, Yb):
        acts = [Xb]
        for l, (W, b) in enumerate(zip(Ws, bs)):
            z = acts[-1] @ W + b
            if l < len(Ws) - 1:
                a = 1 / (1 + np.exp(-z)) if sigmoid_hidden else np.maximum(z, 0)
            elif k == 1:
                a = 1 / (1 + np.exp(-z))
            else:
                e = np.exp(z - z.max(axis=1, keepdims=True))
                a = e / e.sum(axis=1, keepdims=True)
            acts.append(a)
        delta = (acts[-1] - Yb) / len(Xb)
        for l in reversed(range(len(Ws))):
            dW, db = acts[l].T @ delta, delta.sum(axis=0)
            if l > 0:
                delta = delta @ Ws[l].T
                delta *= acts[l] * (1 - acts[l]) if sigmoid_hidden else (acts[l] > 0)
            Ws[l] -= LR * dW
            bs[l] -= LR * db

    return over_batches(step, w, X, Y)


def over_batches(step, w, X, Y):
    """A run: ``step`` on the whole data ``w["steps"]`` times, or once on each batch in order."""
    m = w["batch"] or len(X)

    def run():
        if w["steps"]:
            for _ in range(w["steps"]):
                step(X, Y)
        else:
            for s in range(0, len(X), m):
                step(X[s : s + m], Y[s : s + m])

    return run


def make_sklearn(w, dtype):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    sizes = w["sizes"]
    clf = MLPClassifier(
        hidden_layer_sizes=tuple(sizes[1:-1]), activation="logistic" if w["hidden"] == "sigmoid" else "relu",
        solver="sgd", learning_rate_init=LR, momentum=0.0, nesterovs_momentum=False, alpha=0.0,
        batch_size=w["batch"] or len(w["X"]), shuffle=False, random_state=0,
    )
    X, y = w["X"].astype(dtype), w["y"]
    classes = np.unique(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.partial_fit(X, y, classes=classes)  # builds the network outside the timing

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for _ in range(w["steps"] or 1):
                clf.partial_fit(X, y)

    return run


def make_torch(w, dtype):
    import torch

    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    sizes = w["sizes"]
    mods = []
    for l, W in enumerate(init_weights(sizes, dtype)):
        lin = torch.nn.Linear(*W.shape, dtype=tdtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.zero_()
        mods.append(lin)
        if l < len(sizes) - 2:
            mods.append(torch.nn.Sigmoid() if w["hidden"] == "sigmoid" else torch.nn.ReLU())
    model = torch.nn.Sequential(*mods)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    X = torch.from_numpy(w["X"].astype(dtype))
    if sizes[-1] == 1:
        loss_fn, Y = torch.nn.BCEWithLogitsLoss(), torch.from_numpy(w["y"].reshape(-1, 1).astype(dtype))
    else:
        loss_fn, Y = torch.nn.CrossEntropyLoss(), torch.from_numpy(w["y"])

    def step(Xb, Yb):
        opt.zero_grad()
        loss_fn(model(Xb), Yb).backward()
        opt.step()

    return over_batches(step, w, X, Y)


def have_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


# ---- measuring ---------------------------------------------------------------------------------


CLOCK = time.perf_counter  # --cpu-time: time.process_time, which a busy machine's other processes do not inflate


def timed(fn):
    t = CLOCK()
    fn()
    return CLOCK() - t


def round_robin(runners, repeats, budget=0.0, max_rounds=100):
    """Median seconds of each runner, timed in turn, round after round, after one warm-up round.

    At least ``repeats`` rounds, and as many more (up to ``max_rounds``) as fit in ``budget``
    seconds of wall-clock time judged by the warm-up round: short workloads get many rounds,
    whose medians a load that comes and goes on a shared machine moves far less than it moves
    a few."""
    start = time.perf_counter()
    for fn in runners.values():
        time.sleep(0.05)
        fn()
    one_round = time.perf_counter() - start
    rounds = max(repeats, min(max_rounds, int(budget / one_round)))
    times = {name: [] for name in runners}
    for _ in range(rounds):
        for name, fn in runners.items():
            time.sleep(0.05)  # let the previous contender's BLAS/OpenMP threads go idle
            times[name].append(timed(fn))
    return {name: statistics.median(t) for name, t in times.items()}, times


def compare(w, dtype, repeats, contenders, budget):
    runners = {"floor": make_floor(w, dtype), "chainrule": make_chainrule(w, dtype),
               "chainrule_nodiag": make_chainrule(w, dtype, diagnostics=False), "bare": make_bare(w, dtype)}
    for name in contenders:
        runners[name] = {"numpy": make_numpy, "sklearn": make_sklearn, "torch": make_torch}[name](w, dtype)
    medians, raw = round_robin(runners, repeats, budget)
    # each round's time over the floor's in the same round, then the median: a load that comes
    # and goes on a shared machine slows both sides of a round alike
    rounds = {k: [t / f for t, f in zip(ts, raw["floor"])] for k, ts in raw.items()}
    return {"seconds": medians, "ratio": {k: v / medians["floor"] for k, v in medians.items()},
            "paired_ratio": {k: statistics.median(r) for k, r in rounds.items()},
            "paired_range": {k: [min(r), max(r)] for k, r in rounds.items()}, "raw": raw,
            "targets": targets(raw)}


# the targets of issue 15, as medians of each round's ratio: fit (diagnostics on) against the plain
# NumPy loop, and against the engine's bare step (the work the loop adds to it)
TARGETS = {"fit / plain NumPy": ("chainrule", "numpy", 1.15), "fit / bare step": ("chainrule", "bare", 1.3)}


def targets(raw):
    """{name: paired median ratio} of TARGETS, for the contenders this run timed."""
    return {name: statistics.median(t / r for t, r in zip(raw[a], raw[b]))
            for name, (a, b, _) in TARGETS.items() if a in raw and b in raw}


def shuffle_cost(w, dtype, repeats):
    runners = {"no_shuffle": make_chainrule(w, dtype), "shuffle": make_chainrule(w, dtype, shuffle=True)}
    medians, _ = round_robin(runners, repeats)
    return {"seconds": medians, "shuffle_overhead": medians["shuffle"] / medians["no_shuffle"] - 1}


def peak_memory(w, dtype):
    """Peak bytes allocated while training one shuffled epoch, against the issue's bound."""
    sizes, m = w["sizes"], w["batch"]
    item = np.dtype(dtype).itemsize
    n_params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    state = n_params  # SGD without momentum: one scratch vector
    batch = m * (sizes[0] + 4 * sum(sizes[1:]))  # the gathered batch, then Z, A, δ, scratch per layer
    model_bytes = item * (2 * n_params + state + batch)
    data_bytes = w["X"].astype(dtype).nbytes + w["y"].nbytes
    net = make_chainrule(w, dtype, shuffle=True)
    tracemalloc.start()
    net()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    bound = data_bytes + 1.3 * model_bytes
    return {"peak_bytes_during_fit": peak, "data_bytes": data_bytes, "model_bytes": model_bytes,
            "bound_bytes": bound, "within_bound": data_bytes + peak <= bound,
            "note": "tracemalloc counts what fit allocates; the data already exist before fit starts"}


def scaling(dtype, repeats, quick, budget):
    """Epoch time and ratio to the floor as width (784-w-w-10, batch 128) and batch size grow."""
    rng = np.random.default_rng(0)
    n = 2048 if quick else 8192
    X, y = rng.random((n, 784)), rng.integers(0, 10, n)
    rows = []
    for width in (64, 128, 256, 512, 1024, 2048):
        w = dict(sizes=[784, width, width, 10], hidden="relu", X=X, y=y, batch=128, steps=None)
        med, _ = round_robin({"floor": make_floor(w, dtype), "chainrule": make_chainrule(w, dtype)}, repeats, budget)
        rows.append({"vary": "width", "width": width, "batch": 128, **_row(med)})
    for batch in (1, 4, 16, 64, 256, 1024):
        m = min(n, max(batch * 16, 1024))  # enough rows for several batches, few enough to stay quick
        w = dict(sizes=[784, 256, 256, 10], hidden="relu", X=X[:m], y=y[:m], batch=batch, steps=None)
        med, _ = round_robin({"floor": make_floor(w, dtype), "chainrule": make_chainrule(w, dtype)}, repeats, budget)
        rows.append({"vary": "batch", "width": 256, "batch": batch, "rows": m, **_row(med)})
    return rows


def _row(med):
    return {"floor_s": med["floor"], "chainrule_s": med["chainrule"], "ratio": med["chainrule"] / med["floor"]}


def machine():
    info = {"python": sys.version.split()[0], "numpy": np.__version__, "platform": platform.platform(),
            "processor": platform.processor(), "cpu_count": os.cpu_count(),
            "threads_env": {k: os.environ.get(k) for k in
                            ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")}}
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [{k: d.get(k) for k in ("internal_api", "version", "num_threads", "threading_layer", "architecture")}
                        for d in threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    if have_torch():
        import torch

        info["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads()}
    return info


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller W2 and scaling data, fewer repeats")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed rounds at least (default 9: W2 and W3 get no more in the budget; quick 3)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds per workload and dtype: short workloads get more rounds, up to 100 "
                             "(default 20, quick 3; a scaling row gets a quarter)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results.json"))
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="limit BLAS (and OpenMP) to N threads for the whole run (threadpoolctl; default: their own setting)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time CPU seconds of this process instead of wall-clock seconds: steadier on a shared "
                             "machine; with more than one BLAS thread it also counts their spin-waiting, so pair it "
                             "with --blas-threads 1")
    args = parser.parse_args(argv)
    # W3's lr 0.01 learns little in 1000 steps: the diagnostics' plateau warning, once per fit, is
    # still raised (its cost is timed) but not printed after every round
    warnings.simplefilter("ignore", cr.DiagnosticWarning)
    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(args.blas_threads)  # noqa: F841 (BLAS and OpenMP pools, held for the run)
        if have_torch():
            import torch

            torch.set_num_threads(args.blas_threads)
    repeats = args.repeats or (3 if args.quick else 9)
    budget = args.budget if args.budget is not None else (3.0 if args.quick else 20.0)
    contenders = ["numpy", "sklearn"] + (["torch"] if have_torch() else [])
    results = {"machine": machine(), "repeats": repeats, "budget_s": budget, "quick": args.quick,
               "blas_threads": args.blas_threads,
               "clock": CLOCK.__name__, "workloads": {}}
    threads = f"BLAS limited to {args.blas_threads} thread(s), " if args.blas_threads else ""
    print(f"chainrule benchmark — {'quick, ' if args.quick else ''}{threads}{CLOCK.__name__}, at least {repeats} "
          f"rounds or {budget:g} s per workload, medians; ratios to the floor")
    columns = ["floor", "chainrule", "chainrule_nodiag", "bare"] + contenders
    header = f"{'workload':<14}" + "".join(f"{c.replace('chainrule_nodiag', 'diag off'):>11}" for c in columns)
    print(header)
    wl = workloads(args.quick)
    for name, w in wl.items():
        for dtype in (np.float64, np.float32):
            r = compare(w, dtype, repeats, contenders, budget)
            results["workloads"][f"{name}/{np.dtype(dtype).name}"] = r
            cells = "".join(f"{r['ratio'][c]:>10.2f}×" for c in columns)
            print(f"{name + ' ' + np.dtype(dtype).name:<14}{cells}   (floor {r['seconds']['floor'] * 1e3:.1f} ms; "
                  f"{len(r['raw']['floor'])} rounds; chainrule paired {r['paired_ratio']['chainrule']:.2f}×, "
                  f"range {r['paired_range']['chainrule'][0]:.2f}–{r['paired_range']['chainrule'][1]:.2f}×; "
                  + "; ".join(f"{k} {v:.2f}×" for k, v in r["targets"].items()) + ")")
    results["shuffle"] = shuffle_cost(wl["W2"], np.float64, repeats)
    print(f"W2 shuffling every epoch costs {100 * results['shuffle']['shuffle_overhead']:+.1f}% of the epoch")
    results["memory"] = peak_memory(wl["W2"], np.float64)
    mem = results["memory"]
    print(f"W2 peak memory: data {mem['data_bytes'] / 2**20:.1f} MiB + fit's own {mem['peak_bytes_during_fit'] / 2**20:.1f} MiB; "
          f"bound data + 1.3 × {mem['model_bytes'] / 2**20:.1f} MiB = {mem['bound_bytes'] / 2**20:.1f} MiB "
          f"({'within' if mem['within_bound'] else 'OVER'})")
    if not args.skip_scaling:
        results["scaling"] = scaling(np.float64, repeats, args.quick, budget / 4)
        print("scaling (float64, 784-w-w-10): " + ", ".join(
            f"{r['vary']} {r[r['vary']]}: {r['ratio']:.2f}×" for r in results["scaling"]))
    files.write(args.out, json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
