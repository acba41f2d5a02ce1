// The playground page: sends the configuration (the URL query) and commands over the WebSocket,
// and draws what the server streams back. Training runs on the server, in a thread of its own;
// this page only draws, on animation frames, the latest snapshot it was sent.
"use strict";

const $ = (id) => document.getElementById(id);
const MAX_CURVE_POINTS = 2000;

const state = {
  ws: null, session: null, config: null, data: null, network: null, snapshot: null,
  playing: false, finished: false, selected: [], detailTarget: null, detailAsked: 0,
  curve: [], findings: [], dirty: false, pendingQuery: null,
};

// ---- the connection ---------------------------------------------------------------------------

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  state.ws = ws;
  ws.onopen = () => {
    state.pendingQuery = Object.fromEntries(new URLSearchParams(location.search));
    send({ type: "config", query: state.pendingQuery });
  };
  ws.onmessage = (event) => receive(JSON.parse(event.data));
  ws.onclose = () => setState("disconnected: reload the page (is the server still running?)");
}

function send(message) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
}

function configure(changes) {
  const query = { ...state.config, ...changes };
  for (const key of Object.keys(query)) if (query[key] === "" || query[key] === null) delete query[key];
  state.pendingQuery = query;
  send({ type: "config", query });
}

const handlers = {
  ready(m) {
    Object.assign(state, { session: m.session, config: m.config, network: m.network, snapshot: null,
      playing: false, finished: false, selected: [], curve: [], findings: [], pendingQuery: null });
    state.data = withRange(m.data);
    history.replaceState(null, "", "?" + new URLSearchParams(m.config).toString());
    if (state.keepError) state.keepError = false;  // the message of the refused address bar stays
    else hideError();
    buildNetwork();
    showControls();
    renderFindings();
    updateExports();
    $("detail").textContent = "Click a unit or a weight.";
    state.detailTarget = null;
    setState("paused");
  },
  snapshot(m) {
    state.snapshot = m;
    // x: epochs, in fractions of an epoch (steps over the batches an epoch has)
    const perEpoch = Math.ceil(state.data.train.x.length / (Number(state.config.batch) || state.data.train.x.length));
    const point = { epoch: m.steps / perEpoch, train: m.loss.train, test: m.loss.test };
    const last = state.curve[state.curve.length - 1];
    if (last && last.epoch === point.epoch) state.curve[state.curve.length - 1] = point;
    else state.curve.push(point);
    if (state.curve.length > MAX_CURVE_POINTS) state.curve = state.curve.filter((_, i) => i % 2 === 0);
    state.dirty = true;
    refreshDetail();
  },
  status(m) {
    state.playing = m.state === "playing";
    state.finished = m.state === "finished";
    setState(m.state + (m.reason ? `: ${m.reason}` : ""));
  },
  finding(m) {
    state.findings.push(m);
    renderFindings();
    state.dirty = true;
  },
  detail(m) {
    renderDetail(m);
  },
  error(m) {
    showError(m.message);
    if (state.pendingQuery && !state.config) {
      // the address bar's configuration was refused: start from the defaults, keep the message
      state.pendingQuery = null;
      state.keepError = true;
      send({ type: "config", query: {} });
      return;
    }
    state.pendingQuery = null;
    showControls();
  },
};

function receive(message) {
  const handle = handlers[message.type];
  if (handle) handle(message);
}

function withRange(data) {
  const ys = data.train.y.concat(data.test.y);
  const lo = Math.min(...ys), hi = Math.max(...ys), pad = 0.15 * (hi - lo || 1);
  return { ...data, yRange: [lo - pad, hi + pad] };
}

// ---- status, errors -----------------------------------------------------------------------------

function setState(text) {
  $("state").textContent = text;
}

function showError(text) {
  const box = $("error");
  box.textContent = text;
  box.hidden = false;
}

function hideError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

// ---- the controls ------------------------------------------------------------------------------

function showControls() {
  const c = state.config || {};
  for (const input of document.querySelectorAll("[data-key]")) {
    const key = input.dataset.key;
    if (key === "target") continue;
    input.value = c[key] !== undefined ? c[key] : defaultOf(key);
  }
  const losses = ["", "bce", "cross_entropy", "mse", "half_sse", "hinge"];
  $("loss").innerHTML = losses.map((l) => `<option value="${l}">${l || "default (" + (state.network ? state.network.loss : "") + ")"}</option>`).join("");
  $("loss").value = c.loss || "";
  $("classes-label").hidden = c.data !== "blobs";
  renderLayerControls();
}

function defaultOf(key) {
  return { classes: 3, n: 200, noise: 0.1, ratio: 0.5, schedule: "none", l2: 0, loss: "" }[key] ?? "";
}

function hiddenSizes() {
  const text = (state.config && state.config.layers) || "none";
  return text === "none" ? [] : text.split(",").map(Number);
}

function activations() {
  const names = ((state.config && state.config.activation) || "tanh").split(",");
  return hiddenSizes().map((_, i) => names.length === 1 ? names[0] : names[i]);
}

function setLayers(sizes, acts) {
  const uniform = acts.every((a) => a === acts[0]);
  configure({ layers: sizes.length ? sizes.join(",") : "none", activation: uniform ? (acts[0] || "tanh") : acts.join(",") });
}

function renderLayerControls() {
  const sizes = hiddenSizes(), acts = activations(), box = $("layer-controls");
  box.innerHTML = "";
  const places = state.network && state.network.sizes.length === sizes.length + 2 ? layout() : null;
  sizes.forEach((n, l) => {
    const cell = document.createElement("div");
    cell.className = "layer-control";
    if (places) cell.style.left = `${places[l + 1][0].x + places[l + 1][0].size / 2 - 45}px`;
    cell.innerHTML = `<button title="one unit more">+</button><button title="one unit fewer">−</button>
      <span>${n} unit${n > 1 ? "s" : ""}</span>
      <select title="activation of hidden layer ${l + 1}">${["tanh", "sigmoid", "relu", "leaky_relu", "linear"]
        .map((a) => `<option${a === acts[l] ? " selected" : ""}>${a}</option>`).join("")}</select>`;
    const [more, fewer] = cell.querySelectorAll("button");
    more.onclick = () => { sizes[l] = Math.min(16, n + 1); setLayers(sizes, acts); };
    fewer.onclick = () => { sizes[l] = Math.max(1, n - 1); setLayers(sizes, acts); };
    cell.querySelector("select").onchange = (e) => { acts[l] = e.target.value; setLayers(sizes, acts); };
    box.appendChild(cell);
  });
}

function wireControls() {
  for (const input of document.querySelectorAll("[data-key]")) {
    input.addEventListener("change", () => {
      const key = input.dataset.key;
      if (key === "target") return csvChanged();
      configure({ [key]: String(input.value).trim() });
    });
  }
  $("add-layer").onclick = () => {
    const sizes = hiddenSizes(), acts = activations();
    if (sizes.length < 6) setLayers([...sizes, 4], [...acts, acts[acts.length - 1] || "tanh"]);
  };
  $("remove-layer").onclick = () => {
    const sizes = hiddenSizes(), acts = activations();
    setLayers(sizes.slice(0, -1), acts.slice(0, -1));
  };
  for (const kind of ["play", "pause", "step"]) $(kind).onclick = () => send({ type: kind });
  $("reset").onclick = () => send({ type: "reset" });
  $("upload").onchange = upload;
  $("boundary").addEventListener("click", selectPoint);
  $("export-url").onclick = (e) => {
    e.preventDefault();
    navigator.clipboard?.writeText(location.href);
    setState("the link to this view is in the address bar (and copied)");
  };
}

// ---- an uploaded CSV file ------------------------------------------------------------------------

async function upload() {
  const file = $("upload").files[0];
  if (!file || !state.session) return;
  let answer;
  try {
    const response = await fetch("/api/upload", { method: "POST", body: file,
      headers: { "X-Chainrule-Session": state.session, "Content-Type": "text/csv" } });
    answer = await response.json();
  } catch (e) {
    answer = { error: `the upload failed (${e})` };
  }
  if (answer.error) return showError(answer.error);
  const columns = answer.columns;
  const options = columns.map((c) => `<option>${escapeHtml(c)}</option>`).join("");
  $("target").innerHTML = options;
  $("target").value = columns[columns.length - 1];
  $("csv-columns").hidden = false;
  $("dataset").querySelector('[value="csv"]').disabled = false;
  csvChanged();
}

function csvChanged() {
  const target = $("target").value;
  const columns = [...$("target").options].map((o) => o.value);
  const features = columns.filter((c) => c !== target);
  const box = $("features");
  const before = new Set([...box.querySelectorAll("input:checked")].map((i) => i.value));
  const chosen = features.filter((f) => !box.children.length || before.has(f));
  box.innerHTML = features.map((f) => `<label><input type="checkbox" value="${escapeHtml(f)}"${chosen.includes(f) ? " checked" : ""}>${escapeHtml(f)}</label>`).join("");
  for (const id of ["plane-x", "plane-y"]) $(id).innerHTML = chosen.map((f) => `<option>${escapeHtml(f)}</option>`).join("");
  if (chosen.length > 1) $("plane-y").value = chosen[1];
  const apply = () => {
    const picked = [...box.querySelectorAll("input:checked")].map((i) => i.value);
    const plane = picked.length > 1 ? [$("plane-x").value, $("plane-y").value] : null;
    configure({ data: "csv", target, features: picked.join(","), plane: plane && plane[0] !== plane[1] ? plane.join(",") : "" });
  };
  box.onchange = apply;
  $("plane-x").onchange = $("plane-y").onchange = apply;
  apply();
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// ---- the network view ------------------------------------------------------------------------------

const NS = "http://www.w3.org/2000/svg";

function layout() {
  const box = $("network"), sizes = state.network.sizes;
  const width = box.clientWidth || 520, height = box.clientHeight || 380;
  const node = Math.max(14, Math.min(40, (height - 10) / Math.max(...sizes) - 6));
  return sizes.map((n, l) => {
    const x = 24 + l * (width - 48 - node) / (sizes.length - 1);
    const gap = Math.min(node + 10, (height - node) / Math.max(1, n - 1));
    const top = (height - node - gap * (n - 1)) / 2;
    return Array.from({ length: n }, (_, j) => ({ x, y: top + j * gap, size: node }));
  });
}

function buildNetwork() {
  const box = $("network"), svg = $("weights");
  box.querySelectorAll(".neuron").forEach((n) => n.remove());
  svg.innerHTML = "";
  const places = layout(), sizes = state.network.sizes;
  state.places = places;
  for (let l = 1; l < sizes.length; l++) {
    for (let i = 0; i < sizes[l - 1]; i++) {
      for (let j = 0; j < sizes[l]; j++) {
        const a = places[l - 1][i], b = places[l][j];
        const g = document.createElementNS(NS, "g");
        g.dataset.testid = `weight-${l}-${i + 1}-${j + 1}`;
        g.setAttribute("class", "weight");
        for (const cls of ["hit", "line"]) {
          const line = document.createElementNS(NS, "line");
          line.setAttribute("x1", a.x + a.size);
          line.setAttribute("y1", a.y + a.size / 2);
          line.setAttribute("x2", b.x);
          line.setAttribute("y2", b.y + b.size / 2);
          line.setAttribute("class", cls);
          g.appendChild(line);
        }
        const title = document.createElementNS(NS, "title");
        title.textContent = `W[${l}][${i + 1}][${j + 1}]: from ${unitName(l - 1, i)} to ${unitName(l, j)}`;
        g.appendChild(title);
        g.addEventListener("click", () => askDetail({ kind: "weight", layer: l, from: i + 1, to: j + 1 }));
        svg.appendChild(g);
      }
    }
  }
  places.forEach((column, l) => column.forEach((p, j) => box.appendChild(neuron(l, j, p))));
}

function unitName(l, j) {
  if (l === 0) return state.data.features[j] || `x${j + 1}`;
  return l === state.network.sizes.length - 1 ? `output ${j + 1}` : `unit ${j + 1} of layer ${l}`;
}

function neuron(l, j, p) {
  const div = document.createElement("div");
  div.className = "neuron" + (l === 0 ? " input" : "");
  Object.assign(div.style, { left: `${p.x}px`, top: `${p.y}px`, width: `${p.size}px`, height: `${p.size}px` });
  div.title = unitName(l, j);
  if (l === 0) {
    div.textContent = (state.data.features[j] || `x${j + 1}`).slice(0, 4);
    return div;
  }
  div.dataset.testid = `neuron-${l}-${j + 1}`;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 40;
  div.appendChild(canvas);
  div.addEventListener("click", () => askDetail({ kind: "neuron", layer: l, unit: j + 1 }));
  return div;
}

function drawNetwork(snapshot) {
  const svg = $("weights");
  snapshot.weights.forEach((layer, l) => {
    layer.W.forEach((row, i) => row.forEach((w, j) => {
      const g = svg.querySelector(`[data-testid="weight-${l + 1}-${i + 1}-${j + 1}"] .line`);
      if (!g) return;
      g.style.stroke = w >= 0 ? "#0877bd" : "#f59322";
      g.style.strokeWidth = Math.min(8, 0.5 + 2 * Math.abs(w)).toFixed(2);
    }));
  });
  const hidden = snapshot.units;
  hidden.forEach((units, l) => units.forEach((values, j) => {
    const canvas = document.querySelector(`[data-testid="neuron-${l + 1}-${j + 1}"] canvas`);
    if (canvas) Draw.unit(canvas, values, activationRange(state.network.activations[l]));
  }));
  const outputLayer = state.network.sizes.length - 1;
  if (snapshot.output.kind !== "curve") {
    for (let j = 0; j < state.network.sizes[outputLayer]; j++) {
      const canvas = document.querySelector(`[data-testid="neuron-${outputLayer}-${j + 1}"] canvas`);
      if (canvas && j === 0) Draw.output(canvas, snapshot.output);
    }
  }
}

function activationRange(name) {
  return { tanh: 1, sigmoid: 1 }[name] || null;
}

// ---- the output panel --------------------------------------------------------------------------------

function drawBoundary(snapshot) {
  const canvas = $("boundary"), data = state.data, line = snapshot.output.kind === "curve";
  if (line) Draw.curve(canvas, data, snapshot.output.values);
  else Draw.output(canvas, snapshot.output);
  Draw.points(canvas, data, state.selected, line);
}

function drawNorms(norms) {
  const box = $("norms");
  if (!norms) { box.textContent = "(after the first step)"; return; }
  box.innerHTML = norms.map((g, l) =>
    `<div class="norm"><span>W${l + 1}</span><span class="bar"></span><span>${g === null ? "–" : g.toExponential(2)}</span></div>`).join("");
  // widths through the CSSOM (the page's Content-Security-Policy allows no inline style attributes)
  box.querySelectorAll(".bar").forEach((bar, l) => {
    const g = norms[l];
    bar.style.width = g > 0 ? `${Math.max(2, Math.min(100, 100 * (Math.log10(g) + 8) / 9))}%` : "0";
  });
}

function selectPoint(event) {
  if (!state.data) return;
  const canvas = $("boundary"), rect = canvas.getBoundingClientRect();
  const px = (event.clientX - rect.left) * canvas.width / rect.width;
  const py = (event.clientY - rect.top) * canvas.height / rect.height;
  const line = state.data.bounds.length === 1;
  let best = -1, bestDistance = 100;
  state.data.train.x.forEach((x, i) => {
    const [qx, qy] = Draw.place(canvas, state.data.bounds, line ? [x[0], state.data.train.y[i]] : x, state.data.yRange);
    const d = (qx - px) ** 2 + (qy - py) ** 2;
    if (d < bestDistance) { best = i; bestDistance = d; }
  });
  if (best < 0) state.selected = [];
  else if (event.shiftKey) state.selected = [...new Set([...state.selected, best])].slice(-16);
  else state.selected = [best];
  send({ type: "select", rows: state.selected });
  state.dirty = true;
  if (state.detailTarget) askDetail(state.detailTarget);
}

// ---- the numbers behind a unit or a weight ------------------------------------------------------------

function askDetail(what) {
  if (!sameTarget(what, state.detailTarget)) markSelected(what);
  state.detailTarget = what;
  state.detailAsked = performance.now();
  send({ type: "detail", what });
}

function sameTarget(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

// Ring the unit or weight whose numbers the detail panel shows.
function markSelected(what) {
  document.querySelectorAll("#network .selected").forEach((e) => e.classList.remove("selected"));
  const id = what.kind === "weight" ? `weight-${what.layer}-${what.from}-${what.to}` : `neuron-${what.layer}-${what.unit}`;
  const element = document.querySelector(`[data-testid="${id}"]`);
  if (element) element.classList.add("selected");
}

function refreshDetail() {
  if (!state.detailTarget) return;
  if (!state.playing || performance.now() - state.detailAsked > 1000) askDetail(state.detailTarget);
}

function renderDetail(m) {
  const box = $("detail"), w = m.what;
  const title = w.kind === "weight"
    ? `Weight W[${w.layer}][${w.from}][${w.to}], from ${unitName(w.layer - 1, w.from - 1)} to ${unitName(w.layer, w.to - 1)}`
    : `${unitName(w.layer, w.unit - 1)} (z, a = f(z), δ = ∂L/∂z)`;
  if (m.error) {
    box.innerHTML = `<h3>${escapeHtml(title)}</h3><p class="error-text">${escapeHtml(m.error)}</p>`;
    return;
  }
  const rows = m.rows.length === 1 ? `training row ${m.rows[0] + 1}` : `the ${m.rows.length} training rows ${m.rows.map((r) => r + 1).join(", ")}`;
  const note = m.optimizer === "sgd" ? "the update is the one this step applies (plain gradient descent)"
    : `the update shown is plain gradient descent, −η·∂L/∂w; ${m.optimizer} scales each step by its running averages`;
  box.innerHTML = `<h3>${escapeHtml(title)}</h3>
    <p class="small">chainrule.trace on the current weights, one step on ${rows} (L = ${Number(m.loss).toPrecision(6)}); ${note}.</p>
    ${m.lines.map((line) => `<div class="line" data-key="${escapeHtml(line.key)}" data-value="${line.value}">${escapeHtml(sampleOf(line.key) + line.text.replace(/^sample\d+\./, ""))}</div>`).join("")}`;
  box.dataset.rows = JSON.stringify(m.rows);
  box.dataset.x = JSON.stringify(m.x);
  box.dataset.target = JSON.stringify(m.target);
}

// "sample 2: " for a per-sample line (the trace names some of them sample2.delta…, some not: shown alike)
function sampleOf(key) {
  const match = /^sample(\d+)\./.exec(key);
  return match ? `sample ${match[1]}: ` : "";
}

// ---- findings, exports ----------------------------------------------------------------------------------

function renderFindings() {
  const list = $("findings");
  if (!state.findings.length) {
    list.innerHTML = `<li class="none">nothing found so far</li>`;
    return;
  }
  list.innerHTML = state.findings.map((f) => `<li class="${f.severity}" data-code="${escapeHtml(f.code)}">
    <b>${escapeHtml(f.severity)} [${escapeHtml(f.code)}]</b> ${f.epoch === null ? "before training" : "epoch " + f.epoch}${f.layer ? ", layer " + f.layer : ""}:
    ${escapeHtml(f.message)} <i>Fix: ${escapeHtml(f.fix)}</i></li>`).join("");
}

function updateExports() {
  const s = encodeURIComponent(state.session);
  $("export-model").href = `/api/export/model?session=${s}`;
  for (const format of ["markdown", "latex", "json"]) $(`export-${format}`).href = `/api/export/trace?session=${s}&format=${format}`;
  const blob = new Blob([JSON.stringify({ query: state.config, url: location.href }, null, 2)], { type: "application/json" });
  if (state.configUrl) URL.revokeObjectURL(state.configUrl);
  state.configUrl = URL.createObjectURL(blob);
  $("export-config").href = state.configUrl;
}

// ---- the frame loop -------------------------------------------------------------------------------------

function number(v) {
  return v === null || v === undefined ? "–" : Number(v).toPrecision(4);
}

function frame() {
  const s = state.snapshot;
  if (state.dirty && s && state.network) {
    state.dirty = false;
    $("epoch").textContent = s.epoch;
    $("steps").textContent = s.steps;
    $("loss-train").textContent = number(s.loss.train);
    $("loss-test").textContent = number(s.loss.test);
    drawNetwork(s);
    drawBoundary(s);
    drawNorms(s.grad_norms);
    Draw.losses($("curve"), state.curve, state.findings);
  }
  requestAnimationFrame(frame);
}

wireControls();
connect();
requestAnimationFrame(frame);
