"use strict";
// Small SVG charts: time series (lines and steps) and bars. Our own, so the dashboard ships
// without a charting library and works offline.
const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 800, H = 220, PAD = { l: 48, r: 12, t: 10, b: 26 };

  function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function frame(svg, yMax, yUnit) {
    svg.replaceChildren();
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.classList.add("chart");
    const y = (v) => PAD.t + (H - PAD.t - PAD.b) * (1 - v / yMax);
    for (let i = 0; i <= 4; i++) {
      const v = (yMax * i) / 4;
      svg.append(el("line", { class: "axis", x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v) }));
      svg.append(el("text", { x: PAD.l - 6, y: y(v) + 4, "text-anchor": "end" },
        `${+v.toFixed(1)}${i === 4 ? " " + yUnit : ""}`));
    }
    return y;
  }

  // series: [{points: [[Date|number, value], ...], cls: "series"|"limit"|"plan", step?: bool}]
  function timeSeries(svg, { series, yUnit = "kW", from, to, yMin = 0 }) {
    const all = series.flatMap((s) => s.points);
    const t0 = +(from ?? Math.min(...all.map((p) => +p[0])));
    const t1 = +(to ?? Math.max(...all.map((p) => +p[0])));
    const yMax = niceMax(Math.max(yMin, ...all.map((p) => p[1])) * 1.05);
    const y = frame(svg, yMax, yUnit);
    const span = Math.max(1, t1 - t0);
    const x = (t) => PAD.l + (W - PAD.l - PAD.r) * ((+t - t0) / span);
    for (let i = 0; i <= 4; i++) {
      const t = new Date(t0 + (span * i) / 4);
      // A day in UTC (the site's day); shorter spans in local time, with seconds under 10 min.
      const label = span > 36e5 * 20 ? t.toISOString().slice(11, 16) : t.toTimeString().slice(0, span < 6e5 ? 8 : 5);
      svg.append(el("text", { x: x(t), y: H - 8, "text-anchor": "middle" }, label));
    }
    if (!all.length) {
      svg.append(el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no data yet"));
      return;
    }
    for (const s of series) {
      if (!s.points.length) continue;
      let d = "";
      s.points.forEach(([t, v], i) => {
        if (i === 0) d += `M${x(t)},${y(v)}`;
        else d += s.step ? `H${x(t)}V${y(v)}` : `L${x(t)},${y(v)}`;
      });
      if (s.step) d += `H${x(t1)}`;
      const path = el("path", { class: s.cls || "series", d });
      if (!s.step) {
        const [t, v] = s.points[s.points.length - 1];
        svg.append(el("circle", { class: "dot", cx: x(t), cy: y(v), r: 3 }));
      }
      if (s.testid) path.dataset.testid = s.testid;
      path.dataset.points = String(s.points.length);
      svg.append(path);
    }
  }

  // bars: [{label, value}]
  function bars(svg, { bars: items, yUnit = "" }) {
    const yMax = niceMax(Math.max(0, ...items.map((b) => b.value)) * 1.05);
    const y = frame(svg, yMax, yUnit);
    const slot = (W - PAD.l - PAD.r) / Math.max(1, items.length);
    items.forEach((b, i) => {
      const x0 = PAD.l + i * slot + slot * 0.15;
      svg.append(el("rect", { class: "bar", x: x0, width: slot * 0.7, y: y(b.value), height: y(0) - y(b.value) }));
      if (items.length <= 16 || i % Math.ceil(items.length / 16) === 0)
        svg.append(el("text", { x: x0 + slot * 0.35, y: H - 8, "text-anchor": "middle" }, b.label));
    });
  }

  function create() {
    return el("svg", { class: "chart" });
  }

  return { timeSeries, bars, create };
})();
