"""The model file read as hostile input: every field checked, only the named arrays read, each array's
header checked before its bytes are, memory bounded by the file; one ValueError for every failure.
Property-based: valid files mutated byte by byte and field by field give a Network or a ValueError."""

import copy
import io
import json
import os
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule import modelfile


def small_net(**options):
    layers = [cr.Dense(2, 3, cr.leaky_relu(0.2)), cr.Dense(3, 2, "tanh", bias=False), cr.Dense(2, 1, "sigmoid")]
    return cr.Network(layers, loss="bce", seed=0, **options)


NET = small_net()
ARCH = NET.architecture()
ARRAYS = {name: array for l, layer in enumerate(NET.layers, start=1)
          for name, array in ((f"W{l}", layer.W), (f"b{l}", layer.b))}


def write_npz(path, arch=ARCH, **changes):
    """A model file as np.savez writes it: ``arch`` (a dict, or the JSON text) and ARRAYS with
    ``changes`` (an array, or None to leave that member out)."""
    arrays = {**ARRAYS, **changes}
    text = arch if isinstance(arch, str) else json.dumps(arch)
    np.savez(path, architecture=np.array(text), **{k: v for k, v in arrays.items() if v is not None})


def npy(shape, dtype="<f8", data=b""):
    """The bytes of a .npy member: a header declaring ``shape`` and ``dtype``, then ``data``."""
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": dtype, "fortran_order": False, "shape": shape})
    return f.getvalue() + data


def write_zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)


def changed(**fields):
    """ARCH with top-level ``fields`` replaced; a value of ... deletes the field."""
    arch = copy.deepcopy(ARCH)
    for key, value in fields.items():
        if value is ...:
            del arch[key]
        else:
            arch[key] = value
    return arch


def layer_changed(l, key, value, where=None):
    """ARCH with layer l's ``key`` (or its activation's, ``where="activation"``) replaced."""
    arch = copy.deepcopy(ARCH)
    target = arch["layers"][l] if where is None else arch["layers"][l][where]
    if value is ...:
        del target[key]
    else:
        target[key] = value
    return arch


def refused(path, match):
    with pytest.raises(ValueError, match=match) as caught:
        cr.load(path)
    message = str(caught.value)
    assert "\n" not in message and "allow_pickle" not in message and "Traceback" not in message
    return message


def peak_memory(action):
    """The most memory (bytes, as tracemalloc counts NumPy's and Python's) in use while action() runs."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_round_trip_keeps_every_field_and_weight(tmp_path):
    for net in (NET, small_net(dtype=np.float32, l2=0.01)):
        net.save(tmp_path / "m.npz")
        back = cr.load(tmp_path / "m.npz")
        assert back.architecture() == net.architecture()
        for a, b in zip(back.layers, net.layers):
            np.testing.assert_array_equal(a.W, b.W)
            np.testing.assert_array_equal(a.b, b.b)
            assert a.W.dtype == b.W.dtype
    assert modelfile.is_model_file(tmp_path / "m.npz")


@pytest.mark.parametrize(
    "arch, match",
    [
        ([1, 2], "the architecture is a JSON list, not an object"),
        (changed(format="other"), "no 'format': 'chainrule-model' tag"),
        (changed(version=3), "format version 3; this chainrule reads versions 1 to 2"),
        (changed(version=True), "format version True"),
        (changed(loss=...), "the architecture has no 'loss'"),
        (changed(loss=5), "'loss' must be a loss name"),
        (changed(loss="nope"), "unknown loss 'nope'"),
        (changed(dtype="foo"), "'dtype' must be one of float64, float32, got 'foo'"),
        (changed(l2=-1), "'l2' must be a finite number ≥ 0, got -1"),
        (changed(l2=float("nan")), "'l2' must be a finite number ≥ 0, got nan"),
        (changed(l2=False), "'l2' must be a finite number ≥ 0, got False"),
        (changed(l2=10**400), "'l2' must be a finite number ≥ 0"),
        (changed(layers=[]), "'layers' must be a non-empty list"),
        (changed(layers={"n_in": 2}), "'layers' must be a non-empty list"),
        (changed(layers=[1]), "layer 1 must be a JSON object"),
        ("[" * 10_000 + "]" * 10_000, "nested 10000 deep; a model's is at most 16"),
        ('{"format": "chainrule-model", "x": ' + "[" * 10_000 + "]" * 10_000 + "}", "nested 10001 deep"),
        ("{not json", "the architecture is not valid JSON"),
        ('{"l2": ' + "9" * 5000 + "}", "the architecture is not valid JSON"),
        (layer_changed(1, "bias", "no"), "layer 2's 'bias' must be true or false, got 'no'"),
        (layer_changed(0, "bias", 1), "layer 1's 'bias' must be true or false, got 1"),
        (layer_changed(0, "n_in", True), "layer 1's 'n_in' must be a positive integer, got True"),
        (layer_changed(0, "n_in", 2.0), "layer 1's 'n_in' must be a positive integer, got 2.0"),
        (layer_changed(0, "n_out", 0), "layer 1's 'n_out' must be a positive integer, got 0"),
        (layer_changed(0, "n_out", ...), "layer 1 has no 'n_out'"),
        (layer_changed(1, "n_in", 4), "layer 1 has 3 outputs but layer 2 has n_in 4"),
        (layer_changed(2, "lr_scale", -0.5), "layer 3's 'lr_scale' must be a finite number ≥ 0"),
        (layer_changed(2, "activation", "sigmoid"), "layer 3's 'activation' must be an object with a 'name'"),
        (layer_changed(2, "name", 7, where="activation"), "layer 3's 'activation' must be an object with a 'name'"),
        (layer_changed(0, "custom", "yes", where="activation"), "'custom' must be true or false, got 'yes'"),
        (layer_changed(0, "slope", "0.2", where="activation"), "layer 1's activation's 'slope' must be a finite"),
        (layer_changed(0, "slope", [0.2], where="activation"), "layer 1's activation's 'slope' must be a finite"),
        (layer_changed(0, "slope", 2.0, where="activation"), "leaky_relu slope must be a finite number in"),
        (layer_changed(1, "name", "swish", where="activation"), "the model uses the user-defined activation 'swish'"),
    ],
)
def test_a_bad_architecture_is_one_value_error_naming_the_field(tmp_path, arch, match):
    write_npz(tmp_path / "m.npz", arch)
    refused(tmp_path / "m.npz", match)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"W1": np.array([["a", "b", "c"]] * 2)}, "the array 'W1' holds <U1; the architecture's dtype is float64"),
        ({"W1": np.ones((2, 3), bool)}, "'W1' holds bool"),
        ({"W1": np.zeros((2, 3), "datetime64[s]")}, "'W1' holds datetime64"),
        ({"W1": np.zeros((2, 3), complex)}, "'W1' holds complex128"),
        ({"W1": np.zeros((2, 3), np.int64)}, "'W1' holds int64"),
        ({"W1": np.zeros((2, 3), np.float32)}, "'W1' holds float32; the architecture's dtype is float64"),
        ({"W1": np.array([[{}, 1, 2]] * 2, dtype=object)}, "'W1' holds object"),  # pickled: never unpickled
        ({"W1": np.zeros((3, 2))}, r"the array 'W1' has shape \(3, 2\); the architecture needs \(2, 3\)"),
        ({"b3": np.zeros(2)}, r"the array 'b3' has shape \(2,\); the architecture needs \(1,\)"),
        ({"W2": np.full((3, 2), np.inf)}, "the array 'W2' holds NaN or inf"),
        ({"W2": None}, "the file has no array 'W2'"),
        ({"W1": np.asfortranarray(np.ones((2, 3)))}, "'W1' is stored in Fortran order"),
    ],
)
def test_a_bad_array_is_one_value_error_naming_it(tmp_path, change, match):
    write_npz(tmp_path / "m.npz", **change)
    refused(tmp_path / "m.npz", match)


def test_big_endian_arrays_and_architecture_are_read_as_native(tmp_path):
    text = np.array(json.dumps(ARCH))
    np.savez(tmp_path / "m.npz", architecture=text.astype(text.dtype.newbyteorder(">")),
             **{**ARRAYS, "W1": ARRAYS["W1"].astype(">f8")})
    net = cr.load(tmp_path / "m.npz")
    assert net.architecture() == ARCH
    np.testing.assert_array_equal(net.layers[0].W, ARRAYS["W1"])


def test_an_architecture_that_is_not_a_string_is_refused(tmp_path):
    np.savez(tmp_path / "m.npz", architecture=np.array([{"format": "chainrule-model"}], dtype=object), **ARRAYS)
    refused(tmp_path / "m.npz", "the architecture member is not one JSON string")
    np.savez(tmp_path / "m.npz", architecture=np.array(json.dumps(ARCH).encode()), **ARRAYS)
    refused(tmp_path / "m.npz", "the architecture member is not one JSON string")


def test_compressed_members_are_refused(tmp_path):
    # a compressed member's size says nothing about what it unpacks to
    np.savez_compressed(tmp_path / "m.npz", architecture=np.array(json.dumps(ARCH)), **ARRAYS)
    refused(tmp_path / "m.npz", "the array 'architecture' is compressed")


def test_a_huge_declared_array_fails_without_allocating(tmp_path):
    # 1 MiB of data whose header declares 50,000 × 50,000 float64 (20 GB), as the architecture does
    arch = changed(layers=[{"kind": "dense", "n_in": 50_000, "n_out": 50_000, "activation": {"name": "linear"},
                            "bias": True, "lr_scale": 1.0}], arrays={"W1": [50_000, 50_000], "b1": [50_000]})
    write_zip(tmp_path / "m.npz", {"architecture": npy((), f"<U{len(json.dumps(arch))}",
                                                       json.dumps(arch).encode("utf-32-le")),
                                   "W1": npy((50_000, 50_000), data=bytes(1 << 20)),
                                   "b1": npy((50_000,), data=bytes(400_000))})
    message = "the arrays declare more bytes than the file holds"
    assert peak_memory(lambda: refused(tmp_path / "m.npz", message)) < 4 << 20


def test_a_huge_declared_architecture_is_not_read(tmp_path):
    write_zip(tmp_path / "m.npz", {"architecture": npy((), "<U100000000", b"{}")})
    message = "the architecture declares 400,000,000 bytes, more than the limit"
    assert peak_memory(lambda: refused(tmp_path / "m.npz", message)) < 1 << 20


def test_a_member_cut_short_is_refused(tmp_path):
    write_zip(tmp_path / "m.npz", {"architecture": npy((), f"<U{len(json.dumps(ARCH))}",
                                                       json.dumps(ARCH).encode("utf-32-le")),
                                   "W1": npy((2, 3), data=bytes(10))})
    refused(tmp_path / "m.npz", "the array 'W1' is cut short")


def test_only_the_arrays_the_architecture_names_are_read(tmp_path, monkeypatch):
    # an extra member (here a pickled object array, which reading would refuse) is never opened,
    # nor the b of the layer without bias
    write_npz(tmp_path / "m.npz", extra=np.array([{"x": 1}], dtype=object))
    opened = []
    open_member = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, *a, **k: (
        opened.append(getattr(name, "filename", name)), open_member(self, name, *a, **k))[1])
    net = cr.load(tmp_path / "m.npz")
    assert sorted(opened) == ["W1.npy", "W2.npy", "W3.npy", "architecture.npy", "b1.npy", "b3.npy"]
    np.testing.assert_array_equal(net.layers[1].b, 0)


@pytest.mark.parametrize("content", [b"", b"a,b,y\n1,2,0\n", os.urandom(2000), b"PK\x03\x04" + bytes(100)])
def test_a_file_that_is_not_a_model_is_one_clear_line(tmp_path, content):
    (tmp_path / "m.npz").write_bytes(content)
    refused(tmp_path / "m.npz", "is not a readable chainrule model file")
    assert not modelfile.is_model_file(tmp_path / "m.npz")


def test_a_folder_a_fifo_and_a_missing_path(tmp_path):
    refused(tmp_path, "it is a folder, not a model file")
    os.mkfifo(tmp_path / "fifo.npz")  # opening it would wait for a writer
    refused(tmp_path / "fifo.npz", "it is a device, a FIFO or a socket")
    refused(tmp_path / "none.npz", "no model file at")


@pytest.mark.parametrize("path", [2.5, None, ["m.npz"]])
def test_a_path_of_the_wrong_type_is_named(path):
    with pytest.raises(ValueError, match="path must be a file path"):
        cr.load(path)


# ---- property-based ------------------------------------------------------------------------------


def loads_or_refuses(path):
    """cr.load(path) gives a Network or one ValueError, within a few MB of memory."""

    def load():
        try:
            assert isinstance(cr.load(path), cr.Network)
            event("a Network")
        except ValueError as e:
            event("a ValueError")
            assert "\n" not in str(e) and "allow_pickle" not in str(e)

    assert peak_memory(load) < 8 << 20


@pytest.fixture(scope="module")
def valid_bytes(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.npz"
    NET.save(path)
    return path.read_bytes()


@given(data=st.data())
def test_a_valid_file_mutated_byte_by_byte(tmp_path, valid_bytes, data):
    content = bytearray(valid_bytes)
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(content) - 1))
        edit = data.draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        if edit == "replace":
            content[i] = data.draw(st.integers(0, 255))
        elif edit == "insert":
            content[i:i] = data.draw(st.binary(min_size=1, max_size=8))
        elif edit == "delete":
            del content[i : i + data.draw(st.integers(1, 64))]
        else:
            del content[i:]
        if not content:
            break
    (tmp_path / "m.npz").write_bytes(bytes(content))
    loads_or_refuses(tmp_path / "m.npz")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def places(value, path=()):
    """Every (container path, key) in a JSON value."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield path, key
        yield from places(inner, path + (key,))


PLACES = list(places(ARCH))
DTYPES = st.sampled_from(["<f8", ">f8", "<f4", "<f2", "<i8", "|b1", "<c16", "<U3", "<M8[s]", "|S2"])


@given(data=st.data())
def test_a_valid_file_mutated_field_by_field(tmp_path, data):
    arch, arrays = copy.deepcopy(ARCH), {}
    for _ in range(data.draw(st.integers(1, 3))):
        if data.draw(st.booleans()):  # a field of the architecture: replaced, removed or added
            path, key = data.draw(st.sampled_from(PLACES))
            container = arch
            try:
                for step in path:
                    container = container[step]
                edit = data.draw(st.sampled_from(["replace", "delete", "add"]))
                if edit == "replace":
                    container[key] = data.draw(JSON)
                elif edit == "delete":
                    del container[key]
                elif isinstance(container, dict):
                    container[data.draw(st.text(max_size=6))] = data.draw(JSON)
            except (KeyError, IndexError, TypeError):
                pass  # an earlier edit removed or replaced that place
        else:  # an array: another dtype or shape, or missing
            name = data.draw(st.sampled_from(sorted(ARRAYS)))
            arrays[name] = data.draw(st.none() | hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=3,
                                                                                       max_side=4)))
    write_npz(tmp_path / "m.npz", json.dumps(arch), **arrays)
    loads_or_refuses(tmp_path / "m.npz")
