"""The IDX file format of MNIST and its relatives, plain or gzipped.

An IDX file is: two zero bytes, a type byte (0x08 unsigned byte, 0x09 signed byte, 0x0B int16,
0x0C int32, 0x0D float32, 0x0E float64), a byte with the number of dimensions d, then d
big-endian 32-bit sizes, then the values in row-major order, big-endian.
"""

import gzip
import os
import struct

import numpy as np

__all__ = ["load_idx", "read_idx"]

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """The array stored in one IDX file (``.gz`` files are decompressed)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"no IDX file at {path!r}; check the path")
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise ValueError(f"{path!r} could not be read ({e})") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in _TYPES:
        raise ValueError(f"{path!r} is not an IDX file (it must start with 00 00, a type byte and a dimension count)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path!r} is truncated inside its header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_TYPES[data[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{path!r} holds {len(data) - header} bytes of values but its header announces shape {shape} "
            f"({expected} bytes); the file is truncated or not IDX"
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load_idx(images, labels):
    """MNIST-style data: X (n, rows·cols) scaled to [0, 1] from the images file, y (n,) from the labels.

    The images file must hold an (n, rows, cols) array of unsigned bytes and the labels file an
    (n,) array; both may be gzipped.
    """
    X, y = read_idx(images), read_idx(labels)
    if X.ndim != 3 or X.dtype != np.uint8:
        raise ValueError(f"{os.fspath(images)!r} must hold unsigned-byte images of shape (n, rows, cols), "
                         f"got {X.dtype} of shape {X.shape}")
    if y.ndim != 1:
        raise ValueError(f"{os.fspath(labels)!r} must hold one label per image, shape (n,), got shape {y.shape}")
    if len(X) != len(y):
        raise ValueError(f"{len(X)} images but {len(y)} labels; pass the labels file that belongs to the images")
    return X.reshape(len(X), -1) / 255.0, y.astype(np.int64)
