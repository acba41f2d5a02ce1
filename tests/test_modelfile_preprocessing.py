"""The model file's preprocessing section (format version 2), read as hostile input: every field
checked by type and range and against the architecture, one ValueError naming it; and files of
version 1, written by chainrule before the section existed, still load."""

import copy
import json
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from chainrule import modelfile
from chainrule.datasets.table import Table
from chainrule.tabular import Model, Preprocessor, Target

DATA = os.path.join(os.path.dirname(__file__), "data")


def test_a_model_file_written_by_main_before_version_2_still_loads():
    # tests/data/model-main-0765a45.npz: Network.save on main at 0765a45 of the network below, untrained
    net = cr.load(os.path.join(DATA, "model-main-0765a45.npz"))
    assert repr(net) == "Network(3-4-3, activations=[tanh, softmax], loss='cross_entropy')"
    np.testing.assert_allclose(net.layers[0].W[0], [0.23163179, 0.73549704, 0.51047071, -0.50881741], atol=1e-8)
    np.testing.assert_array_equal(net.layers[1].b, [0, 0, 0])
    x = np.array([[0.5, -1.0, 2.0]])
    h = np.tanh(x @ net.layers[0].W + net.layers[0].b)  # the forward pass written out
    z = h @ net.layers[1].W + net.layers[1].b
    np.testing.assert_allclose(net.predict(x), np.exp(z) / np.exp(z).sum(), rtol=1e-12)
    with pytest.raises(ValueError, match="holds a network without its preprocessing"):
        Model.load(os.path.join(DATA, "model-main-0765a45.npz"))


def model():
    """A 3-input model: 'size' (a number, filled with 2.5), 'colour' (red or blue), three classes."""
    table = Table.from_python({"size": [1.0, 2.0, 3.0, 4.0], "colour": ["red", "blue", "red", "blue"],
                               "kind": ["x", "y", "z", "x"]})
    target = Target.fit(table, "kind", "classification")
    pre = Preprocessor.fit(table, target, impute="mean")
    net = cr.Network([cr.Dense(3, 4, "tanh"), cr.Dense(4, 3, "softmax")], loss="cross_entropy", seed=1)
    return Model(net, pre)


MODEL = model()
SECTION = MODEL.preprocessor.to_dict()


def write(path, section, arch=None):
    """MODEL's file with ``section`` (a dict, or JSON text) as its preprocessing member."""
    net = MODEL.network
    arrays = {"architecture": np.array(json.dumps(arch or net.architecture())),
              "preprocessing": np.array(section if isinstance(section, str) else json.dumps(section))}
    for l, layer in enumerate(net.layers, start=1):
        arrays[f"W{l}"], arrays[f"b{l}"] = layer.W, layer.b
    np.savez(path, **arrays)


def edited(path, value):
    """SECTION with the field at ``path`` (keys and indices) replaced by ``value`` (... deletes it)."""
    section = copy.deepcopy(SECTION)
    container = section
    for step in path[:-1]:
        container = container[step]
    if value is ...:
        del container[path[-1]]
    else:
        container[path[-1]] = value
    return section


def test_the_section_round_trips(tmp_path):
    MODEL.save(tmp_path / "m.npz")
    _, _, section = modelfile.read(tmp_path / "m.npz", preprocessing=True)
    assert section == SECTION
    assert SECTION["features"][0] == {"name": "size", "kind": "number", "fill": 2.5}
    assert SECTION["target"] == {"name": "kind", "task": "classification", "classes": ["x", "y", "z"]}
    assert cr.load(tmp_path / "m.npz").architecture()["version"] == 2


@pytest.mark.parametrize("path, value, match", [
    (("version",), 2, "preprocessing version 2; this chainrule reads version 1"),
    (("version",), ..., "the preprocessing has no 'version'"),
    (("features",), [], "'features' must be a non-empty list"),
    (("features", 0), "size", "feature 1 must be a JSON object"),
    (("features", 0, "name"), "", "feature 1's 'name' must be a non-empty string"),
    (("features", 1, "name"), "size", "two features of the preprocessing have the same name"),
    (("features", 0, "kind"), "date", "feature 1's 'kind' must be 'number' or 'category'"),
    (("features", 0, "fill"), "2.5", "feature 1's 'fill' must be a finite number or null"),
    (("features", 0, "fill"), True, "feature 1's 'fill' must be a finite number or null"),
    (("features", 0, "fill"), ..., "feature 1 has no 'fill'"),
    (("features", 1, "categories"), ["red", "red"], "'categories' must be a non-empty list of distinct strings"),
    (("features", 1, "categories"), ["red", 1], "'categories' must be a non-empty list of distinct strings"),
    (("features", 1, "categories"), ["red", "blue", "green"], "the preprocessing makes 4 inputs but the first layer "
                                                              "takes 3"),
    (("features", 1, "fill"), "green", "feature 2's 'fill' must be one of its categories or null"),
    (("mean",), [0.0, 1.0], "'mean' must be null or a list of 3 finite numbers"),
    (("std",), [1.0, 0.0, 1.0], "'std' must be null or a list of 3 finite numbers > 0"),
    (("std",), None, "'mean' and 'std' must both be lists or both be null"),
    (("target",), ..., "the preprocessing has no 'target'"),
    (("target", "name"), "size", "target's 'name' must be a string other than the features' names"),
    (("target", "task"), "ranking", "target's 'task' must be one of classification, regression"),
    (("target", "classes"), ["x", "y"], "the target has 2 classes but the last layer has 3 outputs"),
    (("target", "classes"), ["x", "x", "z"], "'classes' must be a list of 2 or more distinct labels"),
    (("target", "classes"), ["x", 1, "z"], "'classes' must be a list of 2 or more distinct labels"),
    (("target", "task"), "regression", "target has no 'mean'"),
])
def test_a_bad_field_is_one_value_error_naming_it(tmp_path, path, value, match):
    write(tmp_path / "m.npz", edited(path, value))
    with pytest.raises(ValueError, match=match) as caught:
        Model.load(tmp_path / "m.npz")
    assert "\n" not in str(caught.value) and "is not a readable chainrule model file" in str(caught.value)


def test_a_regression_target_is_checked(tmp_path):
    target = {"name": "kind", "task": "regression", "mean": 1.0, "std": 2.0, "scaled": True}
    write(tmp_path / "m.npz", edited(("target",), target))
    with pytest.raises(ValueError, match="a regression target needs one output; the last layer has 3"):
        Model.load(tmp_path / "m.npz")
    for field, value in [("std", -1.0), ("mean", float("nan")), ("scaled", 1)]:
        write(tmp_path / "m.npz", edited(("target",), {**target, field: value}))
        with pytest.raises(ValueError, match="target's '(mean' and 'std|scaled)' must be"):
            Model.load(tmp_path / "m.npz")


def test_nan_hidden_in_the_json_is_refused(tmp_path):
    write(tmp_path / "m.npz", json.dumps(SECTION).replace('"fill": 2.5', '"fill": NaN'))
    with pytest.raises(ValueError, match="feature 1's 'fill' must be a finite number or null, got nan"):
        Model.load(tmp_path / "m.npz")


def test_a_version_1_file_with_a_preprocessing_member_is_refused(tmp_path):
    write(tmp_path / "m.npz", SECTION, arch={**MODEL.network.architecture(), "version": 1})
    with pytest.raises(ValueError, match="a file of format version 1 has a preprocessing member"):
        Model.load(tmp_path / "m.npz")


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=8)
PLACES = [("version",), ("features",), ("features", 0), ("features", 0, "fill"), ("features", 1, "categories"),
          ("features", 1, "categories", 0), ("features", 1, "fill"), ("mean",), ("std", 2), ("target",),
          ("target", "classes"), ("target", "classes", 1), ("target", "task"), ("target", "name")]


@given(st.data())
def test_any_edit_of_the_section_gives_a_model_or_one_value_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("m") / "m.npz"
    section = edited(data.draw(st.sampled_from(PLACES)), data.draw(JSON | st.just(...)))
    write(path, section)
    try:
        loaded = Model.load(path)
    except ValueError as e:
        assert "\n" not in str(e)
        return
    try:  # what loads, predicts, or says which cell it cannot fill
        loaded.predict({"size": [1.0, None], "colour": ["red", None]})
    except ValueError as e:
        assert "has no value to fill them with" in str(e)
