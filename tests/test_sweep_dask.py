"""Sweeps on Dask: the same runs as in this process, on a LocalCluster of 2 workers, on one chainrule
starts itself, and after a worker is killed mid-sweep."""

import os
import signal
import threading
import time

import pytest

import chainrule as cr

distributed = pytest.importorskip("distributed")

SPEC = {
    "data": {"name": "xor"},
    "network": {"hidden": [[2], [3], [4]], "loss": "bce"},
    "train": {"optimizer": "sgd", "lr": [0.5, 1.0], "momentum": [0.0, 0.9], "epochs": 40, "seeds": 3},
}


def without_time(runs):
    runs = runs.to_dict("records") if hasattr(runs, "to_dict") else runs
    return [{k: v for k, v in run.items() if k != "seconds"} for run in runs]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        yield c


def test_a_cluster_gives_the_local_runs(cluster, tmp_path):
    local = without_time(cr.sweep(SPEC, progress=False))
    remote = without_time(cr.sweep(SPEC, scheduler=cluster.scheduler_address, out=tmp_path, progress=False))
    assert remote == local
    assert len(list((tmp_path / "groups").iterdir())) == 3


def test_processes_starts_and_stops_its_own_cluster():
    spec = {**SPEC, "network": {"hidden": [[2], [3]], "loss": "bce"}}
    assert without_time(cr.sweep(spec, scheduler="processes", progress=False)) == without_time(
        cr.sweep(spec, progress=False))


def test_a_worker_killed_mid_sweep_loses_nothing(cluster, tmp_path):
    spec = {"data": {"name": "xor"}, "network": {"hidden": [[n] for n in range(2, 10)], "loss": "bce"},
            "train": {"optimizer": "sgd", "lr": [0.5, 1.0], "epochs": 1500, "seeds": 8}}
    client = distributed.Client(cluster)
    pids = list(client.run(os.getpid).values())
    client.close()
    killed = []

    def kill_after_first_group():
        groups = tmp_path / "groups"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if groups.is_dir() and any(groups.glob("*.json")):
                finished = len(list(groups.glob("*.json")))
                os.kill(pids[0], signal.SIGKILL)  # the nanny starts a new worker; its groups run again
                killed.append(finished)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_after_first_group)
    killer.start()
    runs = without_time(cr.sweep(spec, scheduler=cluster.scheduler_address, out=tmp_path, progress=False))
    killer.join()
    assert killed and killed[0] < 8, "the worker was not killed mid-sweep"
    assert len(runs) == 8 * 2 * 8
    assert runs == without_time(cr.sweep(spec, progress=False))


def test_an_unreachable_scheduler_is_one_clear_error():
    with pytest.raises(ValueError, match="cannot reach a Dask scheduler at 'tcp://127.0.0.1:1'"):
        cr.sweep(SPEC, scheduler="tcp://127.0.0.1:1", progress=False)
