// Drawing for the playground: heatmaps of what the network computes over the plane, the data
// points, curves over a line, the loss curves. Every function draws into a canvas it is given.
"use strict";

const Draw = (() => {
  // TensorFlow Playground's colours: orange for negative (class 0), blue for positive (class 1)
  const NEGATIVE = [245, 147, 34], POSITIVE = [8, 119, 189], WHITE = [255, 255, 255];
  const CLASS_COLOURS = [NEGATIVE, POSITIVE, [44, 160, 44], [148, 103, 189], [214, 39, 40]];

  function bytes(base64) {
    const text = atob(base64), out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }

  function mix(a, b, t) {
    return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
  }

  // t in [−1, 1]: orange … white … blue
  function diverging(t) {
    return t >= 0 ? mix(WHITE, POSITIVE, Math.min(t, 1)) : mix(WHITE, NEGATIVE, Math.min(-t, 1));
  }

  function css(rgb) {
    return `rgb(${rgb.map(Math.round).join(",")})`;
  }

  // A size × size grid of colours drawn to fill the canvas (row 0 at the top).
  function heatmap(canvas, size, colourAt) {
    const cell = document.createElement("canvas");
    cell.width = cell.height = size;
    const c = cell.getContext("2d"), image = c.createImageData(size, size);
    for (let i = 0; i < size * size; i++) {
      const rgb = colourAt(i);
      image.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * i);
    }
    c.putImageData(image, 0, 0);
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(cell, 0, 0, canvas.width, canvas.height);
  }

  // The network's output over the plane: a probability, a class and its confidence, or a value.
  function output(canvas, out) {
    const values = bytes(out.values), size = Math.round(Math.sqrt(values.length));
    if (out.kind === "classes") {
      const classes = bytes(out.classes);
      heatmap(canvas, size, (i) => mix(WHITE, CLASS_COLOURS[classes[i] % 5], 0.15 + 0.6 * (values[i] / 255)));
    } else {
      heatmap(canvas, size, (i) => diverging(0.8 * (values[i] / 127.5 - 1)));
    }
  }

  // A hidden unit's output: bytes over the plane, or numbers over the line.
  function unit(canvas, values, range) {
    if (typeof values === "string") {
      const v = bytes(values), size = Math.round(Math.sqrt(v.length));
      heatmap(canvas, size, (i) => diverging(v[i] / 127.5 - 1));
    } else {
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      const top = range || Math.max(1e-9, ...values.map((x) => Math.abs(x || 0)));
      polyline(ctx, values.map((y, i) => [i / (values.length - 1) * canvas.width,
        (0.5 - 0.45 * (y || 0) / top) * canvas.height]), "#0877bd", 1.5);
    }
  }

  function polyline(ctx, points, colour, width, dash) {
    ctx.beginPath();
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.setLineDash(dash || []);
    points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.stroke();
    ctx.setLineDash([]);
  }

  // Pixel position of a point on the page's axes.
  function place(canvas, bounds, x, yRange) {
    const [[x0, x1], second] = bounds;
    const [y0, y1] = second || yRange;
    return [(x[0] - x0) / (x1 - x0) * canvas.width, (1 - (x[1] - y0) / (y1 - y0)) * canvas.height];
  }

  function pointColour(data, y) {
    if (data.classes !== null) return CLASS_COLOURS[y % 5];
    const [lo, hi] = data.yRange;
    return diverging(2 * (y - lo) / (hi - lo || 1) - 1);
  }

  // The train (white edge) and test (dark edge) points; ``selected`` rows of the training set ringed.
  function points(canvas, data, selected, line) {
    const ctx = canvas.getContext("2d");
    const sets = [[data.test, "#333"], [data.train, "#fff"]];
    for (const [set, edge] of sets) {
      set.x.forEach((x, i) => {
        const xy = line ? [x[0], set.y[i]] : x;
        const [px, py] = place(canvas, data.bounds, xy, data.yRange);
        ctx.beginPath();
        ctx.arc(px, py, 3.2, 0, 2 * Math.PI);
        ctx.fillStyle = css(pointColour(data, set.y[i]));
        ctx.fill();
        ctx.lineWidth = 1;
        ctx.strokeStyle = edge;
        ctx.stroke();
      });
    }
    for (const row of selected) {
      const x = data.train.x[row], xy = line ? [x[0], data.train.y[row]] : x;
      const [px, py] = place(canvas, data.bounds, xy, data.yRange);
      ctx.beginPath();
      ctx.arc(px, py, 7, 0, 2 * Math.PI);
      ctx.lineWidth = 2;
      ctx.strokeStyle = "#000";
      ctx.stroke();
    }
  }

  // A regression over one input: the network's curve over the targets' range.
  function curve(canvas, data, values) {
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const [x0, x1] = data.bounds[0];
    const xy = values.map((y, i) => [x0 + (x1 - x0) * i / (values.length - 1), y === null ? NaN : y]);
    polyline(ctx, xy.map((p) => place(canvas, data.bounds, p, data.yRange)), "#0877bd", 2);
  }

  // Loss curves on a log scale: train solid, test dashed; findings as red ticks at their epoch.
  function losses(canvas, points, findings) {
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const finite = points.flatMap((p) => [p.train, p.test]).filter((v) => v > 0 && isFinite(v));
    if (!points.length || !finite.length) return;
    const lo = Math.log10(Math.min(...finite)), hi = Math.log10(Math.max(...finite));
    const last = Math.max(1, points[points.length - 1].epoch);
    const X = (e) => 4 + e / last * (canvas.width - 8);
    const Y = (v) => 4 + (1 - (Math.log10(v) - lo) / (hi - lo || 1)) * (canvas.height - 8);
    for (const f of findings) {
      ctx.fillStyle = f.severity === "error" ? "#d62728" : "#e6a000";
      ctx.fillRect(X(f.epoch || 0) - 1, 0, 2, canvas.height);
    }
    for (const [key, dash] of [["train", []], ["test", [4, 3]]]) {
      const xy = points.filter((p) => p[key] > 0).map((p) => [X(p.epoch), Y(p[key])]);
      polyline(ctx, xy, "#333", 1.5, dash);
    }
    ctx.fillStyle = "#555";
    ctx.font = "10px sans-serif";
    ctx.fillText(`${(10 ** hi).toPrecision(3)}`, 6, 12);
    ctx.fillText(`${(10 ** lo).toPrecision(3)}`, 6, canvas.height - 6);
    ctx.fillText(`epoch ${last}`, canvas.width - 70, canvas.height - 6);
  }

  return { output, unit, points, curve, losses, diverging, css, place };
})();
