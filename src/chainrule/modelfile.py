"""The model file: one ``.npz`` (a zip of ``.npy`` arrays) holding the architecture as JSON and the
weights (and running statistics) as float arrays.

Version 2 (written today) lists every array member and its shape in the architecture's ``arrays``
table (``{"W1": [3, 4], "gamma2": [4], …}``), so that any layer kind's arrays are read the same way;
its layers carry a ``kind``. Version 1 (Dense layers only) named W1, b1, … implicitly by the layers'
sizes; such files still load.

``write`` stores them through the package's one safe writer (``chainrule.files.write``). ``read``
returns them checked and never unpickles anything; it treats the file as hostile:

- only a regular file is opened, and only the members the architecture names are read (an extra
  member is never touched);
- the architecture's JSON is read only when its declared size is at most ``MAX_ARCHITECTURE_BYTES``
  and nested at most ``MAX_DEPTH`` deep; every field is checked by type and range;
- each array's shape and dtype are read from its ``.npy`` header and checked against the
  architecture *before* the array is read, and the arrays' bytes must fit in the file: memory is
  bounded by the model's real size, however large the sizes a file declares;
- arrays are float32 or float64 (what the network computes in), uncompressed as ``np.savez`` writes
  them, and finite.

Version 2 also adds an optional member, ``preprocessing``: a second JSON
string, bounded as the architecture is, that ``chainrule.tabular.Model`` writes — how raw rows
become the network's inputs and its outputs become predictions (the columns in order, their fill
values and one-hot categories, the standardization's means and standard deviations, the target's
classes or its scaling). It carries its own ``version`` (``PREPROCESSING_VERSION``); every field is
checked by type and range, and against the architecture (the inputs it makes are the first layer's
n_in, the classes fit the last layer's outputs), before anything uses it.

Every failure is one ValueError naming the field. Building a Network from what ``read`` returns is
``chainrule.network.load``'s job: this module knows the file, not the engine.
"""

import io
import json
import math
import os
import re
import struct
import zipfile
import zlib

import numpy as np

from . import files

__all__ = ["FORMAT", "FORMAT_VERSION", "MAX_ARCHITECTURE_BYTES", "MAX_DEPTH", "MEMBER", "PREPROCESSING_VERSION",
           "is_model_file", "read", "write"]

FORMAT = "chainrule-model"
FORMAT_VERSION = 2
_VERSIONS = (1, 2)
MEMBER = re.compile(r"([A-Za-z_]+)([0-9]+)((?:\.[0-9A-Za-z]+)*)")  # W1, gamma2, running_var3, W4.1, P5
_MAX_NDIM = 2
PREPROCESSING_VERSION = 1
TASKS = ("classification", "regression")
MAX_ARCHITECTURE_BYTES = 4 << 20  # 1M characters of JSON (NumPy stores 4 bytes a character): ~10,000 layers
MAX_DEPTH = 16  # a model's JSON nests 4 deep, {layers: [{activation: {…}}]}, and 2 more a residual block
_MAX_HEADER = 10_000  # bytes of a .npy header (NumPy's own limit); a float array's takes ~120
_DTYPES = ("float64", "float32")
# what a damaged or foreign zip makes zipfile or NumPy raise, besides ValueError
_UNREADABLE = (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, NotImplementedError,
               RuntimeError, struct.error, zlib.error, OverflowError, UnicodeDecodeError, SyntaxError)


def write(path, architecture, arrays, preprocessing=None):
    """Write ``architecture`` (JSON-ready, its ``arrays`` table the shapes of ``arrays``), ``arrays``
    ({member name: array}, names like W1, gamma2, W3.1) and, when given, the ``preprocessing``
    section (JSON-ready) to ``path``, atomically."""
    members = {"architecture": np.array(json.dumps(architecture)), **arrays}
    if preprocessing is not None:
        members["preprocessing"] = np.array(json.dumps(preprocessing, allow_nan=False))
    files.write(path, lambda f: np.savez(f, **members))


def read(path, preprocessing=False):
    """(architecture, {member name: array}) from a model file: a version 1 file's arrays are W1, b1
    (no b for a layer without bias), W2, … With ``preprocessing``: (architecture, arrays, the
    preprocessing section or None).

    Raises one ValueError, naming the file and the field, for anything that is not a model file
    written by ``Network.save`` (see the module's docstring for what is checked).
    """
    path = _fspath(path)
    with files.open_regular(path, "model file") as f:  # its own message for a missing path or a folder
        try:
            with zipfile.ZipFile(f) as archive:
                arch = _architecture(archive)
                _check_architecture(arch)
                arrays = _weights(archive, arch, budget=os.fstat(f.fileno()).st_size)
                section = _preprocessing(archive, arch) if preprocessing else None
        except ValueError as e:
            raise ValueError(f"{path!r} is not a readable chainrule model file: {e}; "
                             "save the network again with Network.save") from None
        except _UNREADABLE as e:
            raise ValueError(f"{path!r} is not a readable chainrule model file (a zip of .npy arrays, as "
                             f"Network.save writes): {_reason(e)}") from None
    return (arch, arrays, section) if preprocessing else (arch, arrays)


def is_model_file(path):
    """Whether ``path`` is a chainrule model file, judged from its architecture member alone (cheap:
    the weights are not read). What the command line asks before it overwrites a file."""
    try:
        with files.open_regular(path, "model file") as f, zipfile.ZipFile(f) as archive:
            arch = _architecture(archive)
    except (ValueError, *_UNREADABLE):
        return False
    return isinstance(arch, dict) and arch.get("format") == FORMAT


def _fspath(path):
    try:
        return os.fspath(path)
    except TypeError:
        raise ValueError(f"path must be a file path (a str or os.PathLike), got {path!r}") from None


def _reason(e):
    """A short reason from a low-level error (OSError's strerror without the errno prefix)."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    if isinstance(e, KeyError):
        return f"no member {e.args[0]!r}" if e.args else "a member is missing"
    return str(e) or type(e).__name__


# ---- the architecture -------------------------------------------------------------------------


def _architecture(archive, name="architecture"):
    """The parsed JSON of the member ``name``: a 0-d unicode array, size and depth bounded."""
    with _member(archive, name) as f:
        shape, dtype = _header(f, name)
        if dtype.kind != "U" or shape != ():
            raise ValueError(f"the {name} member is not one JSON string; this is not a chainrule model")
        if dtype.itemsize > MAX_ARCHITECTURE_BYTES:
            raise ValueError(f"the {name} declares {dtype.itemsize:,} bytes, more than the limit of "
                             f"{MAX_ARCHITECTURE_BYTES:,}")
        data = _read_exactly(f, dtype.itemsize, name)
    text = data.decode("utf-32-be" if dtype.str[0] == ">" else "utf-32-le").rstrip("\0")  # str: "<U…" or ">U…"
    depth = _json_depth(text)
    if depth > MAX_DEPTH:
        raise ValueError(f"the {name} JSON is nested {depth} deep; a model's is at most {MAX_DEPTH}")
    try:
        # NaN and Infinity, which Python's json reads, are refused by the checks of every number
        return json.loads(text)
    except ValueError as e:  # JSONDecodeError, or an integer of more digits than Python converts
        raise ValueError(f"the {name} is not valid JSON ({str(e).split(';')[0]})") from None


def _json_depth(text):
    """How deep [ and { nest in JSON ``text``, counted outside strings, without parsing it (the parser
    itself recurses, so a 10,000-deep document would exhaust Python's stack)."""
    outside = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text, flags=re.DOTALL)  # every string literal emptied
    codes = np.frombuffer(outside.encode("utf-32-le"), dtype=np.uint32)
    step = np.isin(codes, (ord("["), ord("{"))).astype(np.int64) - np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(step).max(initial=0))


def _check_architecture(arch):
    """Raise ValueError naming the first field that is missing, of the wrong type or out of range."""
    if not isinstance(arch, dict):
        raise ValueError(f"the architecture is a JSON {type(arch).__name__}, not an object")
    if arch.get("format") != FORMAT:
        raise ValueError(f"the architecture has no 'format': {FORMAT!r} tag; this is not a chainrule model")
    version = _field(arch, "version", "the architecture")
    if not _is_int(version) or version not in _VERSIONS:
        raise ValueError(f"format version {version!r}; this chainrule reads versions {_VERSIONS[0]} to {_VERSIONS[-1]}")
    if not isinstance(_field(arch, "loss", "the architecture"), str):
        raise ValueError(f"'loss' must be a loss name (a string), got {arch['loss']!r}")
    _check_number(arch, "l2", "the architecture")
    if _field(arch, "dtype", "the architecture") not in _DTYPES:
        raise ValueError(f"'dtype' must be one of {', '.join(_DTYPES)}, got {arch['dtype']!r}")
    layers = _field(arch, "layers", "the architecture")
    if not isinstance(layers, list) or not layers:
        raise ValueError(f"'layers' must be a non-empty list of layers, got {layers!r:.80}")
    _check_layers(layers, "layer ", version)
    if version > 1:
        _check_table(_field(arch, "arrays", "the architecture"))


def _check_layers(layers, where, version):
    """Each layer's common fields (a block's layers too, ``where`` "layer 3." for block 3's); the widths
    chain."""
    for l, spec in enumerate(layers, start=1):
        _check_layer(spec, f"{where}{l}", version)
    for l, (prev, nxt) in enumerate(zip(layers, layers[1:]), start=1):
        if prev["n_out"] != nxt["n_in"]:
            raise ValueError(f"{where}{l} has {prev['n_out']} outputs but {where}{l + 1} has n_in {nxt['n_in']}")


def _check_layer(spec, where, version):
    """What every layer kind has (n_in, n_out, activation, lr_scale; a version 1 layer, a Dense, its
    bias); the fields of a kind are checked when the engine builds the layer."""
    if not isinstance(spec, dict):
        raise ValueError(f"{where} must be a JSON object, got {spec!r:.80}")
    for key in ("n_in", "n_out"):
        value = _field(spec, key, where)
        if not _is_int(value) or value < 1:
            raise ValueError(f"{where}'s {key!r} must be a positive integer, got {value!r:.80}")
    if version == 1 or "bias" in spec:
        if not isinstance(_field(spec, "bias", where), bool):
            raise ValueError(f"{where}'s 'bias' must be true or false, got {spec['bias']!r:.80}")
    if version > 1 and not isinstance(_field(spec, "kind", where), str):
        raise ValueError(f"{where}'s 'kind' must be a layer kind's name (a string), got {spec['kind']!r:.80}")
    if "layers" in spec:  # a block's
        inner = spec["layers"]
        if not isinstance(inner, list) or not inner:
            raise ValueError(f"{where}'s 'layers' must be a non-empty list of layers, got {inner!r:.80}")
        _check_layers(inner, f"{where}.", version)
    _check_number(spec, "lr_scale", where)
    activation = _field(spec, "activation", where)
    if not isinstance(activation, dict) or not isinstance(activation.get("name"), str):
        raise ValueError(f"{where}'s 'activation' must be an object with a 'name' string, got {activation!r:.80}")
    if not isinstance(activation.get("custom", False), bool):
        raise ValueError(f"{where}'s activation's 'custom' must be true or false, got {activation['custom']!r:.80}")
    for key in activation.keys() - {"name", "custom"}:  # the activation's parameters (leaky_relu's slope)
        _check_number(activation, key, f"{where}'s activation")


def _check_table(table):
    """The ``arrays`` table: {member name: shape}, names like W1 or W3.1, shapes of 1 or 2 positive sizes."""
    if not isinstance(table, dict):
        raise ValueError(f"'arrays' must be an object of array names and shapes, got {table!r:.80}")
    for name, shape in table.items():
        if not MEMBER.fullmatch(name):
            raise ValueError(f"'arrays' names an array {name!r:.80}; array names are like W1, gamma2 or W3.1")
        if (not isinstance(shape, list) or not 1 <= len(shape) <= _MAX_NDIM
                or not all(_is_int(n) and n >= 1 for n in shape)):
            raise ValueError(f"the shape of array {name!r} must be a list of 1 or 2 positive sizes, got {shape!r:.80}")


def _field(obj, key, where):
    if key not in obj:
        raise ValueError(f"{where} has no {key!r}")
    return obj[key]


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _check_number(obj, key, where):
    """obj[key] a finite number ≥ 0 (JSON's true and false are not numbers)."""
    value = _field(obj, key, where)
    if not (_is_real(value) and value >= 0):
        raise ValueError(f"{where}'s {key!r} must be a finite number ≥ 0, got {value!r:.80}")


# ---- the preprocessing section -----------------------------------------------------------------


def _preprocessing(archive, arch):
    """The preprocessing section, checked; None when the file has none (Network.save, version 1)."""
    if "preprocessing.npy" not in archive.namelist():
        return None
    if arch["version"] < 2:
        raise ValueError("a file of format version 1 has a preprocessing member, which version 1 does not have")
    section = _architecture(archive, "preprocessing")
    _check_preprocessing(section, arch)
    return section


def _check_preprocessing(pre, arch):
    """Raise ValueError naming the first field of the section that is missing, of the wrong type, out
    of range, or at odds with the architecture."""
    if not isinstance(pre, dict):
        raise ValueError(f"the preprocessing is a JSON {type(pre).__name__}, not an object")
    version = _field(pre, "version", "the preprocessing")
    if not _is_int(version) or version != PREPROCESSING_VERSION:
        raise ValueError(f"preprocessing version {version!r:.80}; this chainrule reads version {PREPROCESSING_VERSION}")
    features = _field(pre, "features", "the preprocessing")
    if not isinstance(features, list) or not features:
        raise ValueError(f"the preprocessing's 'features' must be a non-empty list, got {features!r:.80}")
    width = sum(_check_feature(spec, f"feature {j}") for j, spec in enumerate(features, start=1))
    names = [spec["name"] for spec in features]
    if len(set(names)) != len(names):
        raise ValueError("two features of the preprocessing have the same name")
    n_in = arch["layers"][0]["n_in"]
    if width != n_in:
        raise ValueError(f"the preprocessing makes {width} inputs but the first layer takes {n_in}")
    for key in ("mean", "std"):
        _check_vector(pre, key, width, positive=key == "std")
    if (pre["mean"] is None) != (pre["std"] is None):
        raise ValueError("the preprocessing's 'mean' and 'std' must both be lists or both be null")
    _check_target(_field(pre, "target", "the preprocessing"), names, arch["layers"][-1]["n_out"])


def _check_feature(spec, where):
    """The number of inputs feature ``spec`` makes (1, or its categories), after checking its fields."""
    if not isinstance(spec, dict):
        raise ValueError(f"{where} must be a JSON object, got {spec!r:.80}")
    if not isinstance(_field(spec, "name", where), str) or not spec["name"]:
        raise ValueError(f"{where}'s 'name' must be a non-empty string, got {spec['name']!r:.80}")
    kind, fill = _field(spec, "kind", where), _field(spec, "fill", where)
    if kind == "number":
        if fill is not None and not _is_real(fill):
            raise ValueError(f"{where}'s 'fill' must be a finite number or null, got {fill!r:.80}")
        return 1
    if kind != "category":
        raise ValueError(f"{where}'s 'kind' must be 'number' or 'category', got {kind!r:.80}")
    categories = _field(spec, "categories", where)
    if (not isinstance(categories, list) or not categories or not all(isinstance(c, str) for c in categories)
            or len(set(categories)) != len(categories)):
        raise ValueError(f"{where}'s 'categories' must be a non-empty list of distinct strings, got {categories!r:.80}")
    if fill is not None and fill not in categories:
        raise ValueError(f"{where}'s 'fill' must be one of its categories or null, got {fill!r:.80}")
    return len(categories)


def _check_vector(obj, key, length, positive):
    """obj[key]: null, or a list of ``length`` finite numbers (> 0 where ``positive``)."""
    value = _field(obj, key, "the preprocessing")
    if value is None:
        return
    if (not isinstance(value, list) or len(value) != length or not all(_is_real(v) for v in value)
            or (positive and not all(v > 0 for v in value))):
        raise ValueError(f"the preprocessing's {key!r} must be null or a list of {length} finite numbers"
                         f"{' > 0' if positive else ''}, got {value!r:.80}")


def _check_target(target, features, n_out):
    where = "the preprocessing's target"
    if not isinstance(target, dict):
        raise ValueError(f"{where} must be a JSON object, got {target!r:.80}")
    name, task = _field(target, "name", where), _field(target, "task", where)
    if not isinstance(name, str) or name in features:
        raise ValueError(f"{where}'s 'name' must be a string other than the features' names, got {name!r:.80}")
    if task == "regression":
        if not _is_real(_field(target, "mean", where)) or not _is_real(_field(target, "std", where)) or target["std"] <= 0:
            raise ValueError(f"{where}'s 'mean' and 'std' must be finite numbers, std > 0")
        if not isinstance(_field(target, "scaled", where), bool):
            raise ValueError(f"{where}'s 'scaled' must be true or false, got {target['scaled']!r:.80}")
        if n_out != 1:
            raise ValueError(f"a regression target needs one output; the last layer has {n_out}")
        return
    if task != "classification":
        raise ValueError(f"{where}'s 'task' must be one of {', '.join(TASKS)}, got {task!r:.80}")
    classes = _field(target, "classes", where)
    if (not isinstance(classes, list) or len(classes) < 2   # the labels' types before set(), which hashes them
            or not (all(isinstance(c, str) for c in classes) or all(_is_real(c) for c in classes))
            or len(set(classes)) != len(classes)):
        raise ValueError(f"{where}'s 'classes' must be a list of 2 or more distinct labels, all strings or all "
                         f"numbers, got {classes!r:.80}")
    if n_out != len(classes) and not (n_out == 1 and len(classes) == 2):
        raise ValueError(f"the target has {len(classes)} classes but the last layer has {n_out} outputs")


def _is_real(value):
    """A finite JSON number (JSON's true and false are not numbers)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


# ---- the arrays -------------------------------------------------------------------------------


def _member(archive, name):
    """The open member ``name``.npy; only uncompressed ones, as np.savez writes them (a compressed
    member's size says nothing about the memory it unpacks into)."""
    try:
        info = archive.getinfo(f"{name}.npy")
    except KeyError:
        raise ValueError(f"the file has no array {name!r}") from None
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"the array {name!r} is compressed; model files are written uncompressed")
    return archive.open(info)


def _header(f, name):
    """(shape, dtype) from the .npy header at the start of ``f``, its length bounded before reading."""
    try:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise ValueError
        size = f.read(2 if version == (1, 0) else 4)
        length = int.from_bytes(size, "little")
        if len(size) < 2 or length > _MAX_HEADER:
            raise ValueError
        header = io.BytesIO(size + _read_exactly(f, length, name))
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read(header)
    except (ValueError, SyntaxError, TypeError):
        raise ValueError(f"the array {name!r} has no valid .npy header") from None
    if fortran_order and len(shape) > 1:
        raise ValueError(f"the array {name!r} is stored in Fortran order; model files are in C order")
    return shape, dtype


def _weights(archive, arch, budget):
    """{name: array} of the arrays the architecture names (its table, or for version 1 W1, b1, … by
    the layers' sizes); all their bytes together at most ``budget``, the file's size: members that
    share their bytes (a zip can point many names at one stretch of the file) cannot multiply the
    memory."""
    dtype, arrays = np.dtype(arch["dtype"]), {}
    for name, shape in _table(arch).items():
        arrays[name], budget = _array(archive, name, tuple(shape), dtype, budget)
    return arrays


def _table(arch):
    """{member name: shape} of a model's arrays."""
    if arch["version"] > 1:
        return arch["arrays"]
    table = {}
    for l, spec in enumerate(arch["layers"], start=1):
        table[f"W{l}"] = (spec["n_in"], spec["n_out"])
        if spec["bias"]:
            table[f"b{l}"] = (spec["n_out"],)
    return table


def _array(archive, name, shape, dtype, budget):
    """(the array ``name`` of ``shape`` and ``dtype``, what is left of ``budget``): its header is
    checked, and its bytes counted against ``budget`` (what the file holds), before anything is read."""
    with _member(archive, name) as f:
        found, stored = _header(f, name)
        if stored.kind != "f" or stored.newbyteorder("=") != dtype.newbyteorder("="):
            raise ValueError(f"the array {name!r} holds {stored}; the architecture's dtype is {dtype}")
        if tuple(found) != shape:
            raise ValueError(f"the array {name!r} has shape {found}; the architecture needs {shape}")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > budget:
            raise ValueError(f"the arrays declare more bytes than the file holds (at {name!r})")
        array = np.empty(shape, stored)
        view = memoryview(array.reshape(-1).view(np.uint8))
        for start in range(0, nbytes, 1 << 20):  # in pieces: a read of all of it would copy it once more
            chunk = _read_exactly(f, min(1 << 20, nbytes - start), name)
            view[start : start + len(chunk)] = chunk
    if not np.isfinite(array).all():
        raise ValueError(f"the array {name!r} holds NaN or inf")
    return array.astype(dtype, copy=False), budget - nbytes


def _read_exactly(f, n, name):
    data = f.read(n)
    if len(data) != n:
        raise ValueError(f"the array {name!r} is cut short: the file ends inside it")
    return data
