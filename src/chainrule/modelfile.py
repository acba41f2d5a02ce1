"""The model file: one ``.npz`` holding the architecture as JSON and the weights as arrays.

``write`` stores them atomically; ``read`` returns them checked, never unpickling anything.
Building a Network from what ``read`` returns is ``chainrule.network.load``'s job: this module
knows the file, not the engine.
"""

import json
import os
import tempfile
import zipfile

import numpy as np

__all__ = ["FORMAT", "FORMAT_VERSION", "read", "write"]

FORMAT = "chainrule-model"
FORMAT_VERSION = 1


def write(path, architecture, weights):
    """Write ``architecture`` (JSON-ready) and ``weights`` [(W, b) per layer] to ``path``, atomically."""
    path = os.fspath(path)
    arrays = {"architecture": np.array(json.dumps(architecture))}
    for l, (W, b) in enumerate(weights, start=1):
        arrays[f"W{l}"] = W
        arrays[f"b{l}"] = b
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".chainrule-", suffix=".npz.tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read(path):
    """(architecture, [(W, b) per layer]) from a model file; ValueError for anything else."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"no model file at {path!r}; check the path")
    try:
        with np.load(path, allow_pickle=False) as data:
            arch = json.loads(str(data["architecture"][()]))
            arrays = {k: data[k] for k in data.files if k != "architecture"}
        if arch.get("format") != FORMAT:
            raise ValueError("missing chainrule format tag")
        if arch.get("version") != FORMAT_VERSION:
            raise ValueError(f"format version {arch.get('version')!r}, this chainrule reads {FORMAT_VERSION}")
        weights = [(arrays[f"W{l}"], arrays[f"b{l}"]) for l in range(1, len(arch["layers"]) + 1)]
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, TypeError, json.JSONDecodeError, EOFError) as e:
        raise ValueError(f"{path!r} is not a readable chainrule model file ({e}); save it again with Network.save") from None
    return arch, weights
