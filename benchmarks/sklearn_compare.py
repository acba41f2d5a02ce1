"""chainrule.sklearn's estimators against scikit-learn's MLP: the same network, optimizer and stopping
rule on scikit-learn's bundled data sets; time (round-robin) and test scores.

    python benchmarks/sklearn_compare.py [--seeds 5] [--repeats 5] [--blas-threads 1] [--cpu-time]
                                         [--out benchmarks/sklearn_results.json]

Data sets: iris, wine, breast_cancer, digits (classification: accuracy) and diabetes (regression: R²,
the target standardized), each split 75/25 and standardized on the training part. Both estimators
get the same parameters: hidden_layer_sizes=(100,), relu, adam, learning_rate_init 1e-3, alpha
1e-4, batch_size "auto" (min(200, n)), max_iter 200, tol 1e-4, n_iter_no_change 10, shuffling on,
random_state = the seed; so both stop by the same rule, each on its own loss curve.

Time: the fit on seed 0's split, the two estimators timed in turn, round after round (bench.py's
round_robin), medians; "per epoch" divides by each one's n_iter_, since they may stop at different
epochs. Scores: the test score of each seed's split (split and weights both drawn from the seed),
mean ± standard deviation over the seeds: the noise that the comparison is within.
"""

import argparse
import json
import os
import statistics
import sys
import warnings

import numpy as np
from sklearn import datasets, neural_network
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import bench
from bench import round_robin
from chainrule import files
from chainrule.sklearn import MLPClassifier, MLPRegressor

PARAMS = dict(hidden_layer_sizes=(100,), activation="relu", solver="adam", learning_rate_init=1e-3, alpha=1e-4,
              batch_size="auto", max_iter=200, tol=1e-4, n_iter_no_change=10, shuffle=True)
DATA = {"iris": (datasets.load_iris, True), "wine": (datasets.load_wine, True),
        "breast_cancer": (datasets.load_breast_cancer, True), "digits": (datasets.load_digits, True),
        "diabetes": (datasets.load_diabetes, False)}


def split(name, seed):
    """(X_train, X_test, y_train, y_test), standardized on the training rows (and y for regression)."""
    load, classification = DATA[name]
    X, y = load(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed,
                                                        stratify=y if classification else None)
    scaler = StandardScaler().fit(X_train)
    if not classification:
        mean, std = y_train.mean(), y_train.std()
        y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def estimators(name, seed):
    """{"chainrule": ours, "sklearn": theirs}, unfitted, with the same parameters."""
    ours, theirs = ((MLPClassifier, neural_network.MLPClassifier) if DATA[name][1]
                    else (MLPRegressor, neural_network.MLPRegressor))
    return {"chainrule": ours(random_state=seed, **PARAMS), "sklearn": theirs(random_state=seed, **PARAMS)}


def scores(name, seeds):
    """{contender: [test score of each seed]} and {contender: [n_iter_ of each seed]}."""
    got, epochs = {"chainrule": [], "sklearn": []}, {"chainrule": [], "sklearn": []}
    for seed in range(seeds):
        X_train, X_test, y_train, y_test = split(name, seed)
        for who, est in estimators(name, seed).items():
            est.fit(X_train, y_train)
            got[who].append(float(est.score(X_test, y_test)))
            epochs[who].append(int(est.n_iter_))
    return got, epochs


def timing(name, repeats):
    """{contender: median seconds of a fit} on seed 0's split, and the estimators' n_iter_ there."""
    X_train, _, y_train, _ = split(name, 0)
    fitted = estimators(name, 0)
    runners = {who: (lambda est=est: est.fit(X_train, y_train)) for who, est in fitted.items()}
    medians, raw = round_robin(runners, repeats)
    return medians, {who: int(est.n_iter_) for who, est in fitted.items()}, len(raw["chainrule"])


def compare(name, seeds, repeats):
    medians, n_iter, rounds = timing(name, repeats)
    got, epochs = scores(name, seeds)
    per_epoch = {who: medians[who] / n_iter[who] for who in medians}
    return {"seconds": medians, "n_iter": n_iter, "rounds": rounds, "seconds_per_epoch": per_epoch,
            "speedup": medians["sklearn"] / medians["chainrule"],
            "speedup_per_epoch": per_epoch["sklearn"] / per_epoch["chainrule"],
            "scores": got, "epochs": epochs,
            "score_mean": {who: statistics.mean(v) for who, v in got.items()},
            "score_std": {who: statistics.stdev(v) if len(v) > 1 else 0.0 for who, v in got.items()}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="splits (and weights) whose test scores are compared")
    parser.add_argument("--repeats", type=int, default=5, help="rounds of the timing")
    parser.add_argument("--blas-threads", type=int, default=1)
    parser.add_argument("--cpu-time", action="store_true", help="CPU seconds of this process (steadier when shared)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "sklearn_results.json"))
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)  # both reach max_iter on some sets, alike
    if args.cpu_time:
        bench.CLOCK = bench.time.process_time
    from threadpoolctl import threadpool_limits

    results = {"machine": bench.machine(), "blas_threads": args.blas_threads, "clock": bench.CLOCK.__name__,
               "params": {k: list(v) if isinstance(v, tuple) else v for k, v in PARAMS.items()}, "data": {}}
    print(f"chainrule.sklearn vs sklearn.neural_network — {args.blas_threads} BLAS thread(s), {bench.CLOCK.__name__}, "
          f"{args.repeats} rounds, {args.seeds} seeds")
    print(f"{'data':<14}{'fit (ours)':>11}{'fit (sk)':>10}{'speedup':>9}{'/epoch':>8}{'epochs':>10}"
          f"{'score (ours)':>17}{'score (sk)':>17}")
    with threadpool_limits(args.blas_threads):
        for name in DATA:
            r = results["data"][name] = compare(name, args.seeds, args.repeats)
            s, m, sd = r["seconds"], r["score_mean"], r["score_std"]
            print(f"{name:<14}{s['chainrule']:>10.3f}s{s['sklearn']:>9.3f}s{r['speedup']:>8.2f}×"
                  f"{r['speedup_per_epoch']:>7.2f}×{r['n_iter']['chainrule']:>5}/{r['n_iter']['sklearn']:<4}"
                  f"{m['chainrule']:>10.4f} ± {sd['chainrule']:.3f}{m['sklearn']:>10.4f} ± {sd['sklearn']:.3f}")
    files.write(args.out, json.dumps(results, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
