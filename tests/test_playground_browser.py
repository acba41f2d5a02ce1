"""The playground in a real browser: headless Chromium driven by Playwright, against a server this
module starts on a free port of 127.0.0.1 (``chainrule playground --no-browser``).

Needs Playwright (``pip install playwright``) and a Chromium; Playwright's own browser download is
not used: the browser is Debian's ``/usr/bin/chromium`` (``apt-get install chromium``), or the one
CHAINRULE_CHROMIUM names. Without them these tests skip, with the reason; CI sets
CHAINRULE_REQUIRE_BROWSER=1, which turns that skip into a failure.

CHAINRULE_PLAYGROUND_SCREENSHOT=PATH.png saves the README's screenshot from the XOR test.
"""

import contextlib
import csv
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

import chainrule

CHROMIUM = os.environ.get("CHAINRULE_CHROMIUM", "/usr/bin/chromium")
# without the background-networking flags Chromium tries to reach its update and sync services
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
SECONDS = 1000  # Playwright's timeouts are in milliseconds


def _missing():
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    for module in ("starlette", "uvicorn", "websockets", "sklearn"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (pip install \".[playground]\")"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHAINRULE_CHROMIUM)"
    return None


def _require_browser():
    reason = _missing()
    if reason and os.environ.get("CHAINRULE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CHAINRULE_REQUIRE_BROWSER=1, but the browser tests cannot run: {reason}")
    if reason:
        pytest.skip(reason)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """The playground's URL; the server runs in a process of its own, as a user starts it."""
    _require_browser()
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "chainrule", "playground", "--port", str(port), "--no-browser"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(300):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url, timeout=1).close()
                break
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A page 1280 px wide; any script error on it fails the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # a refused upload is an answer of status 4xx, which Chromium also logs: that is not a script error
    page.on("console", lambda m: m.type == "error" and "status of 4" not in m.text and errors.append(m.text))
    page.set_default_timeout(30 * SECONDS)
    yield page
    context.close()
    assert errors == []


def open_page(page, server, query):
    page.goto(f"{server}?{query}")
    page.wait_for_function("() => document.getElementById('state').textContent.startsWith('paused')")
    page.wait_for_function("() => document.getElementById('loss-train').textContent !== '–'")


def number(page, testid):
    return float(page.get_by_test_id(testid).text_content())


def boundary_pixels(page):
    return np.array(page.evaluate("""() => {
        const c = document.querySelector('[data-testid=boundary]');
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);
    }"""), dtype=np.uint8).reshape(-1, 4)


def click_weight(page, layer, i, j):
    """Click the weight's line where no other line or unit covers it (lines cross in the middle)."""
    where = page.evaluate("""([id]) => {
        const g = document.querySelector(`[data-testid="${id}"]`), line = g.querySelector('line');
        const box = document.getElementById('weights').getBoundingClientRect();
        const [x1, y1, x2, y2] = ['x1', 'y1', 'x2', 'y2'].map((k) => Number(line.getAttribute(k)));
        for (let t = 0.1; t < 0.9; t += 0.02) {
            const x = box.left + x1 + t * (x2 - x1), y = box.top + y1 + t * (y2 - y1);
            if (g.contains(document.elementFromPoint(x, y))) return [x, y];
        }
        return null;
    }""", [f"weight-{layer}-{i}-{j}"])
    assert where is not None, "the weight's line is covered everywhere"
    page.mouse.click(*where)


def download(page, selector, folder):
    with page.expect_download() as info:
        page.locator(selector).click()
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return path


def test_xor_with_four_tanh_units_trains_and_the_boundary_changes(page, server):
    open_page(page, server, "data=xor&layers=4&activation=tanh&lr=0.3&batch=10&seed=0")
    assert page.get_by_test_id("epoch").text_content() == "0"
    before = boundary_pixels(page)
    page.get_by_test_id("play").click()
    page.wait_for_function("() => Number(document.querySelector('[data-testid=loss-test]').textContent) < 0.1",
                           timeout=120 * SECONDS)
    page.get_by_test_id("pause").click()
    page.wait_for_function("() => document.getElementById('state').textContent.startsWith('paused')")
    assert number(page, "loss-test") < 0.1 and int(page.get_by_test_id("epoch").text_content()) > 0
    after = boundary_pixels(page)
    changed = np.any(before != after, axis=1).mean()
    assert changed > 0.3, f"only {changed:.0%} of the boundary's pixels changed"
    # the configuration stays in the address bar: a reload gives the same view
    for key, value in {"data": "xor", "layers": "4", "activation": "tanh", "lr": "0.3", "seed": "0"}.items():
        assert f"{key}={value}" in page.url
    for testid in ("neuron-1-1", "neuron-1-4", "neuron-2-1", "weight-1-2-4", "weight-2-4-1"):
        assert page.get_by_test_id(testid).count() == 1
    if os.environ.get("CHAINRULE_PLAYGROUND_SCREENSHOT"):
        click_weight(page, 1, 2, 3)
        page.wait_for_selector("[data-testid=detail] [data-key^='dW']")
        page.screenshot(path=os.environ["CHAINRULE_PLAYGROUND_SCREENSHOT"], full_page=True)


def trace_gradient(net, X, Y, lr, layer, i, j):
    """∂L/∂W[layer][i][j] from chainrule.trace on the weights of ``net`` and the rows X, Y."""
    spec = {
        "network": {"layers": [net.layers[0].n_in] + [l.n_out for l in net.layers],
                    "activations": [l.activation.name for l in net.layers], "bias": True},
        "weights": {name: value for l, layer_ in enumerate(net.layers, start=1)
                    for name, value in ((f"W{l}", layer_.W.tolist()), (f"b{l}", layer_.b.tolist()))},
        "train": {"x": X, "target": Y, "loss": net.loss.name, "learning_rate": lr, "l2": 0.0},
    }
    return chainrule.trace(spec).steps[0].layers[layer - 1].dW[i - 1, j - 1]


def test_a_clicked_weight_shows_the_gradient_chainrule_trace_computes(page, server, tmp_path):
    open_page(page, server, "data=circles&layers=3&activation=tanh&lr=0.2&batch=8&seed=1")
    for _ in range(4):
        page.get_by_test_id("step").click()
    page.wait_for_function("() => document.getElementById('steps').textContent === '4'")
    click_weight(page, 1, 2, 3)
    line = page.locator("[data-testid=detail] [data-key='dW[1][2][3]']")
    line.wait_for()
    shown = float(line.get_attribute("data-value"))
    detail = page.get_by_test_id("detail")
    X = np.array(json.loads(detail.get_attribute("data-x")))
    Y = np.array(json.loads(detail.get_attribute("data-target")))
    assert X.shape == (8, 2) and "Σ" in line.text_content()
    net = chainrule.load(str(download(page, "[data-testid=export-model]", tmp_path)))
    expected = trace_gradient(net, X.tolist(), Y.tolist(), 0.2, 1, 2, 3)
    assert shown == pytest.approx(expected, rel=1e-9, abs=1e-15)
    # a neuron's numbers on the 8 rows: z, a and δ of each row, each line naming its row once
    page.get_by_test_id("neuron-1-2").click()
    page.locator("[data-testid=detail] [data-key='sample8.delta[1][2]']").wait_for()
    per_row = [t for t in page.locator("[data-testid=detail] .line").all_text_contents() if t.startswith("sample ")]
    assert len(per_row) == 3 * 8 and not any("sample" in t[len("sample 8: "):] for t in per_row), per_row[:3]
    # a training point clicked in the boundary is the row traced
    where = page.evaluate("""() => {
        const c = document.querySelector('[data-testid=boundary]'), r = c.getBoundingClientRect();
        const [px, py] = Draw.place(c, state.data.bounds, state.data.train.x[5], state.data.yRange);
        return [r.left + px * r.width / c.width, r.top + py * r.height / c.height];
    }""")
    page.mouse.click(*where)
    page.wait_for_function("() => JSON.parse(document.querySelector('[data-testid=detail]').dataset.rows).length === 1")
    row = json.loads(detail.get_attribute("data-rows"))[0]
    traced = json.loads(detail.get_attribute("data-x"))[0]
    assert traced == pytest.approx(page.evaluate(f"() => state.data.train.x[{row}]"), abs=1e-5)
    # and the numbers behind a neuron: a = tanh(z) on that row
    page.get_by_test_id("neuron-1-2").click()
    z = page.locator("[data-testid=detail] [data-key='z[1][2]']")
    z.wait_for()
    a = page.locator("[data-testid=detail] [data-key='a[1][2]']")
    assert float(a.get_attribute("data-value")) == pytest.approx(np.tanh(float(z.get_attribute("data-value"))))


def test_an_uploaded_csv_becomes_the_data(page, server, tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "fruit.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["weight", "sugar", "acidity", "kind"])
        for w, s, a in rng.normal(size=(80, 3)):
            writer.writerow([f"{100 + 20 * w:.2f}", f"{10 + 2 * s:.3f}", f"{a:.3f}", "apple" if w + s > 0 else "pear"])
    open_page(page, server, "data=xor")
    page.get_by_test_id("upload").set_input_files(str(path))
    page.wait_for_function("() => new URLSearchParams(location.search).get('data') === 'csv'")
    page.wait_for_function("() => document.getElementById('state').textContent.startsWith('paused')")
    assert page.get_by_test_id("dataset").input_value() == "csv"
    assert "target=kind" in page.url
    assert page.locator(".neuron.input").count() == 3  # weight, sugar, acidity
    page.get_by_test_id("play").click()
    page.wait_for_function("() => Number(document.querySelector('[data-testid=epoch]').textContent) >= 20")
    page.get_by_test_id("pause").click()
    assert number(page, "loss-train") < 0.6  # below ln 2: it learns from the uploaded columns


def test_a_bad_configuration_shows_an_error_and_the_server_goes_on(page, server):
    page.goto(f"{server}?data=xor&layers=4,99&lr=0.1")
    error = page.get_by_test_id("error")
    error.wait_for()
    assert "layers must be up to" in error.text_content()
    # the page starts from the defaults instead, and works
    page.wait_for_function("() => document.getElementById('state').textContent.startsWith('paused')")
    page.locator("#lr").fill("-3")
    page.locator("#lr").dispatch_event("change")
    page.wait_for_function("() => document.querySelector('[data-testid=error]').textContent.includes('lr must be')")
    page.get_by_test_id("step").click()
    page.wait_for_function("() => document.getElementById('steps').textContent === '1'")
    # an upload that is not a CSV file: a message, not a crash
    page.get_by_test_id("upload").set_input_files({"name": "x.csv", "mimeType": "text/csv", "buffer": b"\xff\xfe\x00\x01"})
    page.wait_for_function("() => document.querySelector('[data-testid=error]').textContent.includes('not a CSV file')")
    assert urllib.request.urlopen(server, timeout=10).status == 200


def test_an_exported_model_loads_with_chainrule_load(page, server, tmp_path):
    open_page(page, server, "data=blobs&classes=3&layers=5&activation=relu&lr=0.1&optimizer=adam")
    page.get_by_test_id("step").click()
    page.wait_for_function("() => document.getElementById('steps').textContent === '1'")
    net = chainrule.load(str(download(page, "[data-testid=export-model]", tmp_path)))
    assert [layer.W.shape for layer in net.layers] == [(2, 5), (5, 3)]
    assert net.loss.name == "cross_entropy" and net.predict(np.zeros((4, 2))).shape == (4, 3)
    assert "dW" in download(page, "#export-markdown", tmp_path).read_text()


def test_findings_appear_in_the_page(page, server):
    open_page(page, server, "data=xor&layers=16,16,16,16,16,16&activation=sigmoid&lr=0.01")
    page.get_by_test_id("play").click()
    page.locator("[data-testid=findings] li[data-code=vanishing_gradients]").wait_for()
    page.get_by_test_id("pause").click()
    assert "Fix:" in page.get_by_test_id("findings").text_content()


def test_the_page_answers_while_a_2_8_8_1_network_trains_on_1000_points(page, server):
    """The page's own thread is never blocked by training: while a 2-8-8-1 network trains at batch
    1 on 1,000 points, clicks are answered and the epoch and the picture keep moving."""
    open_page(page, server, "data=moons&n=1000&ratio=0.8&layers=8,8&activation=tanh&lr=0.03&batch=1")
    page.get_by_test_id("play").click()
    page.wait_for_function("() => Number(document.querySelector('[data-testid=epoch]').textContent) >= 1")
    for unit in range(1, 5):  # a click answered, each time, while training runs
        page.get_by_test_id(f"neuron-2-{unit}").click()
        page.wait_for_function(f"() => document.querySelector('[data-testid=detail]').textContent.includes('unit {unit} of layer 2')",
                               timeout=10 * SECONDS)
        steps = int(page.locator("#steps").text_content())
        page.wait_for_function(f"() => Number(document.getElementById('steps').textContent) > {steps}", timeout=10 * SECONDS)
    page.get_by_test_id("pause").click()
    page.wait_for_function("() => document.getElementById('state').textContent.startsWith('paused')", timeout=10 * SECONDS)
