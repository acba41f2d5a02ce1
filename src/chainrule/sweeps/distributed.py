"""Groups of a sweep as Dask tasks: on a ``LocalCluster`` chainrule starts and stops ("processes"), or on
a running scheduler at an address. Needs ``pip install "chainrule[distributed]"``."""

import os

from .groups import run_group

__all__ = ["run"]

CONNECT_SECONDS = 10


def _dask():
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ImportError('the "processes" scheduler and Dask addresses need dask.distributed, which is not '
                          'installed; install it with: pip install "chainrule[distributed]"') from None
    return Client, LocalCluster, as_completed


def run(groups, data, scheduler, retries):
    """Each group's result as it finishes (an iterator); a group whose worker is lost is run again, up to
    ``retries`` times. Ctrl-C (or any error) cancels the groups not finished and stops a cluster started here."""
    Client, LocalCluster, as_completed = _dask()
    return _results(groups, data, scheduler, retries, Client, LocalCluster, as_completed)


def _results(groups, data, scheduler, retries, Client, LocalCluster, as_completed):
    if not groups:  # every group already finished: no cluster to start
        return
    if scheduler == "processes":
        cluster = LocalCluster(n_workers=min(len(groups), os.cpu_count() or 1), threads_per_worker=1,
                               processes=True, dashboard_address=":0")
        client = Client(cluster)
    else:
        cluster = None
        try:
            client = Client(scheduler, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError, ValueError) as e:
            raise ValueError(f"cannot reach a Dask scheduler at {scheduler!r} ({e}); start one with `dask scheduler` "
                             "and workers with `dask worker ADDRESS`, or use --scheduler local or processes") from None
    futures = []
    try:
        shared = client.scatter([data], broadcast=True)[0]  # the data sent once to every worker
        futures = [client.submit(run_group, group, shared, retries=retries, pure=False, key=f"chainrule-{group.id}")
                   for group in groups]
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.cancel(futures)
        client.close()
        if cluster is not None:
            cluster.close()
