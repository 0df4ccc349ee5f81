// The dashboard's script: asks /api/run, /api/p-hat and /api/prompts every 2 s and redraws.
// Each chart's element carries data-points (how many points it shows), which tests read.
"use strict";
const charts = {};

function chart(id, seriesLabels, options = {}) {
  const element = document.getElementById(id);
  // With options.secondScale, the second series has its own scale and axis on the right (β·KL beside the loss).
  const series = [{ label: options.xLabel || "x" }].concat(seriesLabels.map((label, i) => ({
    label, stroke: ["#1f77b4", "#d62728", "#2ca02c"][i], width: 2, scale: options.secondScale && i === 1 ? "y2" : "y",
    points: { show: options.points || false, size: 5 }, paths: options.bars ? uPlot.paths.bars({ size: [0.9] }) : undefined,
    fill: options.bars ? "rgba(31,119,180,0.4)" : undefined,
  })));
  const scales = { x: { time: false, range: options.unitX ? [0, 1] : undefined }, y: { range: options.unitY ? [0, 1] : undefined } };
  const axes = [{}, { scale: "y" }];
  if (options.secondScale) {
    scales.y2 = {};
    axes.push({ scale: "y2", side: 1, stroke: "#d62728", grid: { show: false } });
  }
  const plot = new uPlot({ width: 400, height: 220, series, scales, axes },
    [[], ...seriesLabels.map(() => [])], element);
  charts[id] = { plot, element };
}

function draw(id, data) {
  const c = charts[id];
  c.plot.setData(data);
  c.element.dataset.points = data[0].length;
}

function num(row, key) {
  const v = row[key];
  return typeof v === "number" && isFinite(v) ? v : null;
}

function table(id, rows) {
  const body = document.querySelector("#" + id + " tbody");
  body.innerHTML = "";
  for (const cells of rows) {
    const tr = document.createElement("tr");
    for (const [i, cell] of cells.entries()) {
      const td = document.createElement("td");
      td.textContent = cell;
      if (i > 0) td.className = "num";
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

async function refreshRun() {
  const run = await (await fetch("/api/run")).json();
  document.getElementById("run-id").textContent = run.runId;
  const metrics = run.metrics, evals = run.evaluations;
  const rolloutsAt = new Map(metrics.map(m => [m.version, num(m, "rollouts-consumed")]));
  const held = evals.map(e => [e.version === 0 ? 0 : rolloutsAt.get(e.version), num(e, "pass@1")]).filter(p => p[0] != null);
  draw("held-out", [held.map(p => p[0]), held.map(p => p[1])]);
  const versions = metrics.map(m => m.version);
  draw("band", [versions, metrics.map(m => num(m, "mean-p-hat")), metrics.map(m => num(m, "informative-share"))]);
  draw("staleness", [versions, metrics.map(m => num(m, "mean-staleness"))]);
  draw("loss", [versions, metrics.map(m => num(m, "loss")), metrics.map(m => num(m, "beta-kl"))]);
  const last = evals.length ? evals[evals.length - 1] : null;
  const cal = [];
  for (let b = 0; last && b < 10; b++) {
    const p = num(last, "calibration-p-hat-" + b), a = num(last, "calibration-accuracy-" + b);
    if (p != null && a != null) cal.push([p, a]);
  }
  cal.sort((x, y) => x[0] - y[0]);
  draw("calibration", [cal.map(c => c[0]), cal.map(c => c[1]), cal.map(c => c[0])]);
  table("lag", Object.entries(run.lag).map(([group, behind]) => [group, behind.toLocaleString()]));
  const dead = Object.entries(run.deadLetters);
  table("dead-letters", dead.length ? dead.map(([what, n]) => [what, n.toLocaleString()]) : [["none", ""]]);
  if (run.final) {
    table("final", Object.entries(run.final).filter(([k]) => k.startsWith("pass@") || k === "avg@k" || k === "distinct-correct")
      .map(([k, v]) => [k, v.toFixed(3)]));
  }
  const newest = metrics.length ? metrics[metrics.length - 1] : null;
  document.getElementById("status").textContent = newest
    ? `version ${newest.version}, ${(newest["rollouts-consumed"] || 0).toLocaleString()} rollouts consumed` +
      (last ? `, held-out pass@1 ${last["pass@1"].toFixed(3)} at version ${last.version}` : "") + (run.final ? " — finished" : "")
    : "waiting for the run's first update…";
}

async function refreshPHat() {
  const response = await fetch("/api/p-hat?sample=2000");
  if (!response.ok) return;
  const histogram = await response.json();
  const bins = histogram.counts.length;
  draw("p-hat", [histogram.counts.map((_, i) => (i + 0.5) / bins), histogram.counts]);
  document.getElementById("p-hat-note").textContent = histogram.estimatorVersion < 0 ? "no Z_φ yet" :
    `${histogram.scored.toLocaleString()} prompts scored with Z_φ of version ${histogram.estimatorVersion}` +
    (histogram.sampled ? ` (a sample: one in ${histogram.stride})` : "");
}

async function searchPrompts() {
  const form = new FormData(document.getElementById("prompt-search"));
  const query = new URLSearchParams();
  for (const [key, value] of form.entries()) if (value !== "") query.set(key, value);
  query.set("limit", "25");
  const response = await fetch("/api/prompts?" + query);
  const answer = await response.json();
  if (!response.ok) {
    document.getElementById("prompt-matches").textContent = answer.error || "the difficulty stream did not answer";
    return;
  }
  document.getElementById("prompt-matches").textContent = `${answer.matches.toLocaleString()} match`;
  const body = document.querySelector("#prompts tbody");
  body.innerHTML = "";
  for (const p of answer.prompts) {
    const tr = document.createElement("tr");
    for (const [cell, isNum] of [[p.promptId, false], [p.family, false], [p.difficulty, true],
        [p.pHat == null ? "—" : p.pHat.toFixed(3), true], [p.pHatVersion, true], [p.timesScheduled, true],
        [p.inFlight ? "yes" : "", false]]) {
      const td = document.createElement("td");
      td.textContent = cell;
      if (isNum) td.className = "num";
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

chart("held-out", ["pass@1"], { xLabel: "rollouts", points: true, unitY: true });
chart("p-hat", ["prompts"], { xLabel: "p̂", bars: true });
chart("calibration", ["observed accuracy", "p̂ (ideal)"], { xLabel: "p̂", points: true, unitX: true, unitY: true });
chart("band", ["mean p̂ scheduled", "share with signal"], { xLabel: "version" });
chart("staleness", ["mean staleness"], { xLabel: "version" });
chart("loss", ["loss", "β·KL (right axis)"], { xLabel: "version", secondScale: true });
document.getElementById("prompt-search").addEventListener("submit", event => { event.preventDefault(); searchPrompts(); });

async function tick() {
  for (const refresh of [refreshRun, refreshPHat, searchPrompts]) {
    try { await refresh(); } catch (e) { document.getElementById("status").textContent = "dashboard: " + e; }
  }
  setTimeout(tick, 2000);
}
tick();
