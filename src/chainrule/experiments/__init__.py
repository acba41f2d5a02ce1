"""chainrule's experiments, each reproducible from one command: ``chainrule experiment NAME``.

One module per experiment, named after it (``credit-risk`` → ``credit_risk.py``), with

    TITLE = "one line: what the experiment shows"

    def compute(ctx):      # ctx: a chainrule.experiments.context.Context
        ...                # train on the engine (ctx.fit) and measure: no figures, no prose
        return Results(numbers, runs)   # numbers → results.json; runs: the networks, Histories, data

    def report(ctx, results):
        ...                # from ``results`` alone: draw ctx.figure(...), describe it with
                           # ctx.setup / ctx.table / ctx.observe

and its name in ``NAMES`` below (the order of ``chainrule experiment all``). ``run`` computes an
experiment and writes its figures, results.json and report.md into one folder; ``run_all`` runs
every experiment into a folder of its own and writes an index.md that links the reports.
"""

import importlib
import os
import time

from .. import files, plotting
from .context import COMMAND, Context, Results

__all__ = ["NAMES", "Context", "Results", "command", "index_path", "run", "run_all", "title"]

NAMES = ("xor", "credit-risk", "moons", "sine", "ising", "vanishing-gradients", "linear-models", "multi-output",
         "activations", "learning-rate", "pitfalls")


def _module(name):
    if name not in NAMES:
        raise ValueError(f"unknown experiment {name!r}; use one of {', '.join(NAMES)} or all")
    return importlib.import_module(f"{__name__}.{name.replace('-', '_')}")


def title(name):
    """The experiment's one-line title."""
    return _module(name).TITLE


def command(name, quick=False, seed=0):
    """The command line that reproduces a run."""
    return f"{COMMAND} {name}" + (" --quick" if quick else "") + (f" --seed {seed}" if seed else "")


def run(name, out, quick=False, seed=0):
    """Run the experiment ``name`` into the folder ``out`` (created if needed) and return its Context
    (``report_path``, ``results_path``, ``figures``, ``results``, ``seconds``)."""
    module = _module(name)
    plotting.require()  # every experiment draws: say now, before any work, if matplotlib is missing
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"cannot write the experiment into {os.fspath(out)!r}: it is a file, not a folder")
    os.makedirs(out, exist_ok=True)
    ctx = Context(name, module.TITLE, out, quick=quick, seed=seed)
    start = time.perf_counter()
    results = module.compute(ctx)
    ctx.results.update(results.numbers)
    module.report(ctx, results)
    ctx.seconds = time.perf_counter() - start
    ctx.write(command(name, quick, seed))
    return ctx


def run_all(out, quick=False, seed=0, done=None):
    """Run every experiment into ``out/NAME/`` and write ``out/index.md`` linking the reports.
    ``done(ctx)`` is called after each one. Returns the Contexts."""
    plotting.require()
    os.makedirs(out, exist_ok=True)
    contexts = []
    for name in NAMES:
        ctx = run(name, os.path.join(out, name), quick=quick, seed=seed)
        contexts.append(ctx)
        if done is not None:
            done(ctx)
    lines = ["# chainrule experiments", "",
             f"`{command('all', quick, seed)}` — {sum(c.seconds for c in contexts):.1f} s in all.", "",
             "| experiment | what it shows | diagnostics | time |", "| --- | --- | --- | --- |"]
    for ctx in contexts:
        codes = ", ".join(ctx.findings()) or "none"
        lines.append(f"| [{ctx.name}]({ctx.name}/report.md) | {ctx.title} | {codes} | {ctx.seconds:.1f} s |")
    files.write(index_path(out), "\n".join(lines) + "\n")
    return contexts


def index_path(out):
    return os.path.join(out, "index.md")
