"""Sweeps: a grid of configurations × seeds, trained in stacks (``chainrule.stacked``), here or on Dask.
Networks the stacked engine does not take (batch_norm, residual) train one at a time with ``fit``.

``sweep(spec, scheduler="local", out=None)`` runs the spec (``chainrule.sweeps.spec``) and returns its
runs. ``scheduler``: "local" (in this process), "processes" (a ``dask.distributed.LocalCluster`` on
this machine's cores, started and stopped here) or the address of a running Dask scheduler
("tcp://host:8786"; its workers need chainrule installed). Each group of runs is one Dask task,
retried (``retries``) when its worker is lost. With ``out``, every finished group is kept in
``out/groups/`` as it finishes, a rerun into the same folder skips them, and runs.csv, summary.csv,
results.json and the figures are written at the end — or at Ctrl-C, from the groups finished by then.
"""

import sys

from ..progress import shown
from . import groups as _groups
from . import spec as _spec
from .output import Folder, tables

__all__ = ["sweep", "RETRIES"]

RETRIES = 3  # how often Dask runs a group again whose worker was lost


def sweep(spec, scheduler="local", out=None, retries=RETRIES, progress=True, group_size=_groups.GROUP_SIZE):
    """Run a sweep; returns its runs (a pandas DataFrame when pandas is installed, else a list of dicts:
    the swept keys, seed, final_loss, accuracy or r2, val_… with held-out rows, epochs, seconds)."""
    spec = _spec.read(spec)
    # checked before anything is skipped or run: an address has a port (tcp://host:8786, host:8786)
    if not isinstance(scheduler, str) or (scheduler not in ("local", "processes") and ":" not in scheduler):
        raise ValueError(f'scheduler must be "local", "processes" or a Dask scheduler\'s address such as '
                         f'tcp://host:8786, got {scheduler!r:.80}')
    data = _groups.load_data(spec.data)
    plan = _groups.plan(spec, data, group_size)
    for group in plan:  # a configuration that cannot be built or trained on these data fails here, once
        _groups.check(group, data)
    folder = None if out is None else Folder(out)
    done = {}
    if folder is not None:
        for group in plan:
            result = folder.finished(group)
            if result is not None:
                done[group.id] = result
    pending = [group for group in plan if group.id not in done]
    if done and progress:  # said, as the progress bar is shown: on standard error
        print(f"{sum(len(g) for g in plan if g.id in done)} of {sum(map(len, plan))} runs already in "
              f"{folder.groups} ({len(done)} of {len(plan)} groups): not trained again", file=sys.stderr)
    results = _run(pending, data, scheduler, retries)
    try:
        with _bar(sum(map(len, plan)), sum(len(g) for g in plan if g.id in done), progress) as bar:
            for result in results:
                if folder is not None:
                    folder.keep(result)
                done[result["id"]] = result
                bar.update(len(result["rows"]))
    finally:
        results.close()  # on Dask: the groups not finished are cancelled, a cluster started here stopped
        results = [done[g.id] for g in plan if g.id in done]
        runs, summary, best, curves = tables(spec, results)
        if folder is not None:
            folder.write(spec, runs, summary, best, curves)
    return _frame(runs)


def _run(pending, data, scheduler, retries):
    """The results of the pending groups, each as it finishes."""
    if scheduler == "local":
        return (_groups.run_group(group, data) for group in pending)  # a generator: it has close()
    from .distributed import run

    return run(pending, data, scheduler, retries)


def _bar(total, initial, progress):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="runs", unit="run", file=sys.stderr,
                disable=not (progress and shown()), mininterval=0.2)


def _frame(runs):
    try:
        import pandas
    except ImportError:
        return runs
    return pandas.DataFrame(runs)
