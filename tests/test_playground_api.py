"""The playground's server through Starlette's test client: the configuration (the URL query), the
WebSocket session (snapshots, play/pause/step, the numbers behind a weight), uploads, exports, and
the safety rules (Host and Origin checked, uploads capped, bad input answered with a message).

The gradients the page shows are compared with central differences of the loss written out here
in plain NumPy, on the weights of the exported model."""

import asyncio
import errno
import json
import queue
import time
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("starlette.testclient", reason="the playground's extra is not installed: pip install \".[playground]\"")
pytest.importorskip("sklearn", reason="the moons and circles data sets need scikit-learn")

from starlette.testclient import TestClient, WebSocketDenialResponse  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

import chainrule  # noqa: E402
from chainrule.playground import config as configuration  # noqa: E402
from chainrule.playground import create_app, data  # noqa: E402
from chainrule.playground.session import Live, Run  # noqa: E402
from chainrule.playground.views import build_network  # noqa: E402

# the page shows the findings; as warnings they would only repeat them in the test log
pytestmark = pytest.mark.filterwarnings("ignore::chainrule.DiagnosticWarning")

BASE = "http://127.0.0.1"
WS = "ws://127.0.0.1/ws"


@pytest.fixture
def client():
    with TestClient(create_app(), base_url=BASE) as c:
        yield c


def receive(ws, kind, limit=2000):
    """The next message of type ``kind`` (snapshots and others in between are skipped)."""
    for _ in range(limit):
        message = json.loads(ws.receive_text())
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind!r} message among the next {limit}")


def wait_for_steps(ws, steps, tries=200):
    """Ask for snapshots until one says ``steps`` steps were taken (each press of step is one)."""
    for _ in range(tries):
        ws.send_text(json.dumps({"type": "snapshot"}))
        if receive(ws, "snapshot")["steps"] >= steps:
            return
        time.sleep(0.02)
    raise AssertionError(f"{steps} presses of step did not take {steps} steps")


def configure(ws, **query):
    ws.send_text(json.dumps({"type": "config", "query": query}))
    return receive(ws, "ready")


# ---- the configuration ---------------------------------------------------------------------------


def test_the_query_gives_the_configuration_and_round_trips():
    c = configuration.parse({"data": "blobs", "classes": "4", "layers": "8,3", "activation": "tanh,relu", "lr": "0.5",
                             "batch": "full", "seed": "7", "noise": "0.2", "optimizer": "adam", "schedule": "step:10:0.5"})
    assert (c.data, c.classes, c.layers, c.activation, c.lr, c.batch, c.seed, c.noise, c.optimizer) == \
        ("blobs", 4, (8, 3), ("tanh", "relu"), 0.5, None, 7, 0.2, "adam")
    query = c.query()
    for key in ("data", "layers", "activation", "lr", "batch", "seed", "noise", "optimizer"):
        assert key in query  # the keys are always in the address bar
    assert configuration.parse(query) == c
    assert configuration.parse({}) == configuration.Config()


@pytest.mark.parametrize("key, value, words", [
    ("data", "mnist", "data='mnist' is not one of"),
    ("layers", "4,99", "layers must be up to"),
    ("layers", "1,1,1,1,1,1,1", "layers must be up to"),
    ("activation", "softmax", "activation 'softmax' is not one of"),
    ("activation", "tanh,relu,relu", "for 2 hidden layer(s)"),
    ("lr", "0", "lr must be a number > 0"),
    ("lr", "nan", "lr must be a number > 0"),
    ("batch", "0", "batch must be a whole number from 1"),
    ("seed", "-1", "seed must be a whole number"),
    ("noise", "2", "noise must be a number from 0 to 1"),
    ("optimizer", "lbfgs", "optimizer='lbfgs' is not one of"),
    ("schedule", "step:0:0.5", "schedule='step:0:0.5' is not one of"),
    ("target", "y", "target, features and plane choose the columns of an uploaded CSV"),
    ("colour", "red", "unknown configuration key 'colour'"),
])
def test_a_bad_query_value_is_one_message_naming_the_key(key, value, words):
    query = {"layers": "4,4", key: value}
    with pytest.raises(ValueError, match=None) as e:
        configuration.parse(query)
    assert words in str(e.value)


@pytest.mark.parametrize("plane", ["width", "width,height,depth", "width,width"])
def test_the_plane_is_two_different_columns(plane):
    with pytest.raises(ValueError, match="plane must name two different feature columns") as e:
        configuration.parse({"data": "csv", "target": "label", "plane": plane})
    assert repr(plane) in str(e.value)


@pytest.mark.parametrize("name, classes", [("xor", 2), ("circles", 2), ("moons", 2), ("spiral", 2), ("blobs", 2),
                                           ("blobs", 5), ("sine", None)])
def test_every_data_set_is_split_by_the_ratio_and_has_its_classes(name, classes):
    c = configuration.parse({"data": name, "classes": str(classes or 3), "n": "300", "ratio": "0.7", "noise": "0.3"})
    d = data.make(c)
    assert len(d.X_train) == 210 and len(d.X_test) == 90
    assert d.classes == classes
    if classes:
        assert sorted(set(d.y_train.tolist()) | set(d.y_test.tolist())) == list(range(classes))
        assert d.X_train.shape[1] == 2 and np.all(np.abs(d.X_train) < 4)
    else:  # the sine: y = sin(x) plus noise, one input
        assert d.X_train.shape[1] == 1
    again = data.make(c)  # the seed fixes the points
    np.testing.assert_array_equal(again.X_train, d.X_train)


def test_xor_labels_are_the_sign_of_the_product_without_noise():
    d = data.make(configuration.parse({"data": "xor", "noise": "0"}))
    X, y = np.concatenate([d.X_train, d.X_test]), np.concatenate([d.y_train, d.y_test])
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))


# ---- the page and the safety rules ---------------------------------------------------------------


def test_the_page_and_its_files_load_nothing_from_elsewhere(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    texts = [page.text] + [client.get(f"/static/{name}").text for name in ("app.js", "draw.js", "style.css")]
    for text in texts:
        # the SVG namespace is a name, not an address the browser fetches
        assert "https://" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    for testid in ("dataset", "play", "pause", "step", "reset", "epoch", "loss-train", "loss-test", "boundary",
                   "detail", "findings", "export-model"):
        assert f'data-testid="{testid}"' in page.text


def test_a_request_for_another_host_name_is_refused(client):
    assert client.get("/", headers={"host": "attacker.example"}).status_code == 400


def test_a_websocket_from_another_origin_is_refused(client):
    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect(WS, headers={"origin": "http://attacker.example"}):
            pass
    assert refused.value.code == 1008
    with pytest.raises(WebSocketDenialResponse):  # a name rebound to 127.0.0.1
        with client.websocket_connect("ws://attacker.example/ws", headers={"origin": "http://attacker.example"}):
            pass


def test_no_path_from_the_browser_reaches_the_file_system(client):
    for path in ("/static/../__init__.py", "/static/%2e%2e/server.py", "/api/export/model?session=../../etc/passwd"):
        response = client.get(path)
        assert response.status_code in (400, 404), path
        assert "import" not in response.text


# ---- a session ----------------------------------------------------------------------------------


def test_ready_then_a_snapshot_then_one_step(client):
    with client.websocket_connect(WS) as ws:
        ready = configure(ws, data="xor", layers="4", activation="tanh", lr="0.3", batch="10", seed="0")
        assert ready["config"]["layers"] == "4" and ready["network"]["sizes"] == [2, 4, 1]
        assert ready["network"]["activations"] == ["tanh", "sigmoid"] and ready["network"]["loss"] == "bce"
        assert len(ready["data"]["train"]["x"]) == 100 and len(ready["data"]["test"]["x"]) == 100
        first = receive(ws, "snapshot")
        assert (first["epoch"], first["steps"]) == (0, 0)
        # an untrained network on balanced classes: the loss is near ln 2
        assert abs(first["loss"]["train"] - np.log(2)) < 0.1
        assert len(first["units"]) == 1 and len(first["units"][0]) == 4  # one heatmap per hidden unit
        assert [len(layer["W"]) for layer in first["weights"]] == [2, 4]
        ws.send_text(json.dumps({"type": "step"}))
        after = receive(ws, "snapshot")
        assert after["steps"] == 1 and after["weights"] != first["weights"]
        assert after["grad_norms"] is not None and all(g > 0 for g in after["grad_norms"])


def test_play_trains_xor_and_pause_holds_the_weights(client):
    with client.websocket_connect(WS) as ws:
        configure(ws, data="xor", layers="4", activation="tanh", lr="0.3", batch="10")
        ws.send_text(json.dumps({"type": "play"}))
        for _ in range(20000):
            snap = receive(ws, "snapshot")
            if snap["loss"]["test"] < 0.1:
                break
        assert snap["loss"]["test"] < 0.1 and snap["accuracy"]["test"] > 0.95
        ws.send_text(json.dumps({"type": "pause"}))
        receive(ws, "status")
        ws.send_text(json.dumps({"type": "snapshot"}))
        held = receive(ws, "snapshot")
        ws.send_text(json.dumps({"type": "snapshot"}))
        assert receive(ws, "snapshot")["weights"] == held["weights"]


def forward_bce(weights, X, y):
    """Mean binary cross-entropy of a tanh … tanh, sigmoid network, written out here."""
    a = X
    for l, (W, b) in enumerate(weights, start=1):
        z = a @ W + b
        a = np.tanh(z) if l < len(weights) else 1 / (1 + np.exp(-z))
    p = a[:, 0]
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def load_model(content, tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    return chainrule.load(str(path))


def test_a_weights_detail_is_the_gradient_of_the_loss_on_its_rows(client, tmp_path):
    with client.websocket_connect(WS) as ws:
        ready = configure(ws, data="xor", layers="3", activation="tanh", lr="0.3", batch="8")
        for _ in range(5):
            ws.send_text(json.dumps({"type": "step"}))
        wait_for_steps(ws, 5)  # paused after the five steps: the detail and the export see one moment
        ws.send_text(json.dumps({"type": "select", "rows": [3, 7, 11]}))
        ws.send_text(json.dumps({"type": "detail", "what": {"kind": "weight", "layer": 1, "from": 2, "to": 3}}))
        detail = receive(ws, "detail")
        net = load_model(client.get(f"/api/export/model?session={ready['session']}").content, tmp_path)
    assert detail["rows"] == [3, 7, 11]
    lines = {line["key"]: line["value"] for line in detail["lines"]}
    X, y = np.array(detail["x"]), np.array(detail["target"])[:, 0]
    weights = [(layer.W.copy(), layer.b.copy()) for layer in net.layers]
    assert lines["W[1][2][3]"] == pytest.approx(weights[0][0][1, 2], abs=1e-12)
    h = 1e-6
    up = [(W.copy(), b) for W, b in weights]
    down = [(W.copy(), b) for W, b in weights]
    up[0][0][1, 2] += h
    down[0][0][1, 2] -= h
    gradient = (forward_bce(up, X, y) - forward_bce(down, X, y)) / (2 * h)
    assert lines["dW[1][2][3]"] == pytest.approx(gradient, rel=1e-5, abs=1e-9)
    assert detail["loss"] == pytest.approx(forward_bce(weights, X, y), rel=1e-9)
    # plain gradient descent: w − η·∂L/∂w
    assert lines["W_new[1][2][3]"] == pytest.approx(weights[0][0][1, 2] - 0.3 * gradient, rel=1e-6)


def test_a_neurons_detail_has_z_a_and_delta_per_sample(client):
    with client.websocket_connect(WS) as ws:
        configure(ws, data="xor", layers="2", activation="tanh", lr="0.1", batch="4")
        ws.send_text(json.dumps({"type": "select", "rows": [0]}))
        ws.send_text(json.dumps({"type": "detail", "what": {"kind": "neuron", "layer": 1, "unit": 2}}))
        detail = receive(ws, "detail")
    lines = {line["key"]: line for line in detail["lines"]}
    z, a = lines["z[1][2]"]["value"], lines["a[1][2]"]["value"]
    assert a == pytest.approx(np.tanh(z), rel=1e-12)
    assert "delta[1][2]" in lines and "db[1][2]" in lines


def test_exports_a_model_that_chainrule_load_reads_and_the_trace_in_three_formats(client, tmp_path):
    with client.websocket_connect(WS) as ws:
        ready = configure(ws, data="moons", layers="5", activation="relu", lr="0.1")
        ws.send_text(json.dumps({"type": "step"}))
        snap = receive(ws, "snapshot")
        while snap["steps"] < 1:
            snap = receive(ws, "snapshot")
        session = ready["session"]
        net = load_model(client.get(f"/api/export/model?session={session}").content, tmp_path)
        markdown = client.get(f"/api/export/trace?session={session}&format=markdown")
        latex = client.get(f"/api/export/trace?session={session}&format=latex")
        as_json = client.get(f"/api/export/trace?session={session}&format=json")
        assert client.get(f"/api/export/trace?session={session}&format=exe").status_code == 404
        assert client.get("/api/export/model?session=nobody").status_code == 404
    assert [layer.W.shape for layer in net.layers] == [(2, 5), (5, 1)]
    np.testing.assert_allclose(net.layers[0].W, snap["weights"][0]["W"], atol=1e-6)
    assert markdown.status_code == 200 and "dW" in markdown.text
    assert "\\" in latex.text
    json.loads(as_json.text)


def test_an_export_that_cannot_write_its_file_says_why_and_the_session_goes_on(client, monkeypatch):
    def no_room(self, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    with client.websocket_connect(WS) as ws:
        session = configure(ws, data="xor", layers="2")["session"]
        with monkeypatch.context() as patch:
            patch.setattr(chainrule.Network, "save", no_room)
            answer = client.get(f"/api/export/model?session={session}")
        assert answer.status_code == 400
        assert "no space left on device" in answer.json()["error"] and "TMPDIR" in answer.json()["error"]
        ws.send_text(json.dumps({"type": "step"}))  # the training thread still answers
        wait_for_steps(ws, 1)
        assert client.get(f"/api/export/model?session={session}").content[:2] == b"PK"  # an .npz is a zip file


def test_a_command_that_fails_unexpectedly_is_one_message_and_the_thread_goes_on(client, monkeypatch):
    def broken(self, what):
        raise KeyError("a fault of the playground's own")

    with client.websocket_connect(WS) as ws:
        session = configure(ws, data="xor", layers="2")["session"]
        with monkeypatch.context() as patch:
            patch.setattr(Run, "_model_bytes", lambda self: broken(self, None))
            patch.setattr(Run, "_detail", broken)
            ws.send_text(json.dumps({"type": "detail", "what": {"kind": "neuron", "layer": 1, "unit": 1}}))
            # the export is answered after the detail (the thread takes commands in order), or
            # times out if the detail ended the thread: no wait below is for a thread gone
            answer = client.get(f"/api/export/model?session={session}")
            assert answer.status_code == 400 and "export_model failed: KeyError" in answer.json()["error"]
            error = receive(ws, "error")["message"]
        assert "detail failed: KeyError" in error and "the run goes on" in error
        ws.send_text(json.dumps({"type": "step"}))
        wait_for_steps(ws, 1)
        ws.send_text(json.dumps({"type": "detail", "what": {"kind": "neuron", "layer": 1, "unit": 1}}))
        assert receive(ws, "detail")["lines"]


def test_training_that_fails_unexpectedly_says_so_and_the_thread_still_answers(monkeypatch):
    def broken(self, trainer, batch, loss):
        raise KeyError("a fault of the playground's own")

    monkeypatch.setattr(Live, "on_batch_end", broken)
    config = configuration.parse({"data": "xor", "layers": "2"})
    d = data.make(config)
    messages, answers = queue.Queue(), queue.Queue()
    run = Run(config, d, build_network(config, d), send=messages.put).start()
    try:
        run.command("step")
        seen = []  # what the page is told, up to the end of the run (the bound: the thread gone silent)
        while not seen or seen[-1].get("state") != "finished":
            seen.append(messages.get(timeout=30))
        run.command("export_model", reply=answers.put)
        assert answers.get(timeout=30)[:2] == b"PK"  # an .npz is a zip file
    finally:
        run.close()
    errors = [m["message"] for m in seen if m["type"] == "error"]
    assert errors == ["training failed: KeyError: \"a fault of the playground's own\""]
    assert "KeyError" in seen[-1]["reason"]


def test_the_gradient_norms_shown_are_each_layers_over_all_its_weights():
    """BatchNorm and residual blocks have no single dW: each layer's norm is its own ‖∂L/∂W‖."""
    config = configuration.parse({"data": "xor", "layers": "2"})
    d = data.make(config)
    run = Run(config, d, build_network(config, d), send=lambda message: None)
    run.playing = True  # on_gradients does not wait for a command
    rng = np.random.default_rng(0)
    net = chainrule.Network([chainrule.Dense(2, 4, "tanh"), chainrule.BatchNorm(4, "relu"),
                             chainrule.Residual([chainrule.Dense(4, 3, "tanh"), chainrule.Dense(3, 3)]),
                             chainrule.Dense(3, 1)], loss="mse", seed=0)
    net.backward(rng.normal(size=(6, 2)), rng.normal(size=6))
    Live(run).on_gradients(SimpleNamespace(net=net), batch=None)
    dense, norm, block, last = net.layers
    inner = block.layers
    expected = [np.linalg.norm(dense.dW), np.linalg.norm(norm.dgamma),
                np.sqrt(np.sum(inner[0].dW ** 2) + np.sum(inner[1].dW ** 2) + np.sum(block.projection.dW ** 2)),
                np.linalg.norm(last.dW)]
    assert run.grad_norms == pytest.approx(expected, rel=1e-12)
    assert all(g > 0 for g in run.grad_norms)


def test_numpy_numbers_and_non_finite_values_go_out_as_json_with_null():
    """A message may hold NumPy scalars and arrays and a diverged run's NaN and ±inf: the page gets
    JSON (which has neither NaN nor infinity) with null in their place."""
    from chainrule.playground.server import Session

    class Page:
        def __init__(self):
            self.texts = []

        async def send_text(self, text):
            self.texts.append(text)
            raise WebSocketDisconnect()  # one message is all this page takes

    async def send_one():
        session = Session("token", asyncio.get_running_loop())
        session.post({"type": "finding", "value": np.float32(0.25), "rows": np.arange(2), "wide": np.int64(7),
                      "losses": np.array([1.5, np.nan, np.inf]), "grad_norms": [np.float64(-np.inf), 2.0]})
        await session.pump(page)

    page = Page()
    asyncio.run(send_one())
    assert json.loads(page.texts[0]) == {"type": "finding", "value": 0.25, "rows": [0, 1], "wide": 7,
                                         "losses": [1.5, None, None], "grad_norms": [None, 2.0]}


# ---- uploads ----------------------------------------------------------------------------------


def upload(client, session, body, **headers):
    return client.post("/api/upload", content=body, headers={"x-chainrule-session": session, **headers})


def test_an_uploaded_csv_trains_with_its_chosen_columns(client):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    rows = "\n".join(f"{a:.4f},{b:.4f},{c:.4f},{'yes' if a + b > 0 else 'no'}" for a, b, c in X)
    with client.websocket_connect(WS) as ws:
        session = configure(ws)["session"]
        answer = upload(client, session, f"width,height,depth,label\n{rows}\n".encode())
        assert answer.status_code == 200 and answer.json() == {"columns": ["width", "height", "depth", "label"]}
        ready = configure(ws, data="csv", target="label", features="width,height,depth", plane="height,width",
                          layers="3")
        assert ready["data"]["plane"] == ["height", "width"] and ready["data"]["classes"] == 2
        assert ready["network"]["sizes"] == [3, 3, 1]
        assert len(ready["data"]["train"]["x"]) == 30
        ws.send_text(json.dumps({"type": "config", "query": {"data": "csv", "target": "label", "features": "mass"}}))
        assert "no feature column 'mass'" in receive(ws, "error")["message"]


@pytest.mark.parametrize("body, status, words", [
    (b"\xff\xfe\x00binary", 400, "not a CSV file"),
    (b"justonecolumn\n1\n2\n", 400, "header row naming two or more columns"),
    (b"a,b\n" + b"1,2\n" * (data.MAX_UPLOAD_BYTES // 4 + 1), 413, "larger than"),
])
def test_a_bad_upload_is_answered_with_a_message(client, body, status, words):
    with client.websocket_connect(WS) as ws:
        session = configure(ws)["session"]
        answer = upload(client, session, body)
        assert answer.status_code == status and words in answer.json()["error"]
        assert configure(ws, data="moons")["config"]["data"] == "moons"  # the session goes on


def test_an_upload_from_elsewhere_or_without_a_session_is_refused(client):
    with client.websocket_connect(WS) as ws:
        session = configure(ws)["session"]
        assert upload(client, "not-a-session", b"a,b\n1,2\n").status_code == 403
        assert upload(client, session, b"a,b\n1,2\n", origin="http://attacker.example").status_code == 403


def test_a_csv_the_reader_refuses_names_no_server_path(client):
    with client.websocket_connect(WS) as ws:
        session = configure(ws)["session"]
        assert upload(client, session, b"a,b,y\n1,2,0\n3,x,1\n4,5,0\n6,7,1\n8,9,0\n").status_code == 200
        ws.send_text(json.dumps({"type": "config", "query": {"data": "csv", "target": "y"}}))
        message = receive(ws, "error")["message"]
    assert "the uploaded file" in message and "chainrule-playground-" not in message


# ---- bad input: a message, and the server goes on ----------------------------------------------


@pytest.mark.parametrize("text, words", [
    ("not json", "must be a JSON object"),
    ("[1, 2]", "must be a JSON object with a \"type\""),
    ('{"type": "explode"}', "unknown command 'explode'"),
    ('{"type": "config", "query": {"layers": "0,4"}}', "layers must be up to"),
    ('{"type": "config", "query": {"data": "csv"}}', "needs a CSV file"),
    ('{"type": "config", "query": {"data": "sine", "loss": "bce"}}', "is for classes"),
    ('{"type": "config", "query": {"data": "blobs", "classes": "4", "loss": "mse"}}', "use cross_entropy"),
    ('{"type": "detail", "what": {"kind": "weight", "layer": 9, "from": 1, "to": 1}}', "the layer must be"),
    ('{"type": "detail", "what": {"kind": "neuron", "layer": 1, "unit": 5}}', "the unit must be"),
    ('{"type": "select", "rows": [100000]}', "a selected row must be"),
])
def test_a_bad_command_is_answered_with_an_error_and_the_session_goes_on(client, text, words):
    with client.websocket_connect(WS) as ws:
        configure(ws, layers="4")
        ws.send_text(text)
        assert words in receive(ws, "error")["message"]
        ws.send_text(json.dumps({"type": "step"}))
        while receive(ws, "snapshot")["steps"] < 1:
            pass


def test_a_cosine_schedule_runs_past_its_period(client):
    with client.websocket_connect(WS) as ws:
        configure(ws, data="xor", layers="4", lr="0.5", batch="full", schedule="cosine:3")
        ws.send_text(json.dumps({"type": "play"}))
        snap = receive(ws, "snapshot")
        while snap["epoch"] < 8:
            message = json.loads(ws.receive_text())
            assert message["type"] != "error", message
            snap = message if message["type"] == "snapshot" else snap
        ws.send_text(json.dumps({"type": "pause"}))


def test_findings_reach_the_page_as_they_happen_with_their_fix(client):
    with client.websocket_connect(WS) as ws:
        # six sigmoid layers: the first layer's gradient is orders of magnitude below the last's
        configure(ws, data="xor", layers="16,16,16,16,16,16", activation="sigmoid", lr="0.01")
        ws.send_text(json.dumps({"type": "play"}))
        finding = receive(ws, "finding")
        ws.send_text(json.dumps({"type": "pause"}))
    assert finding["code"] == "vanishing_gradients" and finding["epoch"] >= 1
    assert finding["severity"] == "warning" and finding["fix"]


def test_a_run_that_diverges_says_why_it_stopped_and_the_session_goes_on(client):
    with client.websocket_connect(WS) as ws:
        configure(ws, data="sine", layers="4", lr="3")
        ws.send_text(json.dumps({"type": "play"}))
        status = receive(ws, "status")
        while status["state"] != "finished":
            status = receive(ws, "status")
        assert "non-finite" in status["reason"]
        ws.send_text(json.dumps({"type": "play"}))
        assert "press reset" in receive(ws, "error")["message"]
        ws.send_text(json.dumps({"type": "reset"}))
        assert receive(ws, "snapshot")["steps"] == 0
