/**
 * The page: load the bundle (./bundle/ or ?bundle=URL) with onnxruntime-web (./ort/ or ?ort=URL),
 * verify it, run its golden vectors, then offer CSV scoring and, for image bundles, a drawing pad;
 * for a series bundle a CSV is a series (one row per time step), plotted with its per-step score,
 * the threshold and the alarms (./series-view.js); a decision scorer's p-values are shown with the labels.
 *
 * State for people and for tests: document.body.dataset.state is loading | ready | refused;
 * dataset.csv is busy | done | error after a CSV; dataset.draw counts scored strokes;
 * window.aeweb holds the results as plain JSON-able values.
 */

import { AeBundleError } from './core/errors.js';
import { parseCsv, parseCsvBytes, scoresCsv } from './core/table.js';
import { loadBundle } from './web.js';
import {
  drawSeries, scoreSeriesRows, seriesCsv, setupSeriesView,
} from './series-view.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const BUNDLE_URL = new URL(params.get('bundle') || 'bundle/', location.href);
const ORT_URL = new URL(params.get('ort') || 'ort/', location.href);
/** ?threshold=T overrides the calibrated threshold; ?fpr=A labels p_value <= A (decision bundles) */
const THRESHOLD = params.has('threshold') ? params.get('threshold') : undefined;
const FPR = params.has('fpr') ? params.get('fpr') : undefined;
const TOP_K = 3;
const FLAGGED_SHOWN = 50;

const result = { state: 'loading', error: null, bundle_id: null, golden: null, csv: null, draw: null, ort: null };
window.aeweb = result;

function setState(state) {
  result.state = state;
  document.body.dataset.state = state;
}

/** ?fpr=A on a decision bundle: aeruntime's line for that operating point (rank, threshold, FPR interval); else the rule. */
function operatingPointFact(bundle) {
  if (bundle.calibrationSize !== null && !bundle.series) {
    try {
      const op = bundle.operatingPoint(FPR);
      result.operating_point = { ...op };
      return `${op.line} (?fpr=)`;
    } catch (e) {
      if (!(e instanceof AeBundleError)) throw e; // an fpr out of range: scoring reports it
    }
  }
  return `fpr ${FPR} (?fpr=): label = p-value ≤ ${FPR}`;
}

function fact(name, value) {
  const dt = document.createElement('dt');
  dt.textContent = name;
  const dd = document.createElement('dd');
  dd.textContent = value;
  $('facts').append(dt, dd);
}

function check(text, ok = true) {
  const li = document.createElement('li');
  li.className = ok ? 'ok' : 'bad';
  li.textContent = text;
  $('checks').append(li);
}

const fmt = (v) => (Math.abs(v) >= 1000 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toPrecision(4));

async function importOrt() {
  const url = new URL('ort.wasm.min.mjs', ORT_URL);
  let ort;
  try {
    ort = await import(url.href);
  } catch (e) {
    throw new AeBundleError('NOT_FOUND', `cannot load onnxruntime-web from ${url} (${e.message}). Build the site with \`aeexport web BUNDLE --out SITE\`, which copies it, or pass ?ort=URL of its dist/ folder.`);
  }
  ort.env.wasm.wasmPaths = ORT_URL.href;
  // Threads need SharedArrayBuffer, which browsers give only to cross-origin isolated pages
  // (COOP: same-origin + COEP: require-corp); elsewhere one thread, which is plenty here.
  ort.env.wasm.numThreads = globalThis.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  ort.env.wasm.proxy = false;
  return ort;
}

/** The bundle lists golden vectors (a slim bundle may not). */
const hasGolden = (bundle) => Object.keys(bundle.manifest.files).some((f) => f.startsWith('test_data/'));

/** An image bundle: no feature names and a square input (shape [N], [H, W] or [1, H, W]). */
function imageSide(m) {
  if (Array.isArray(m.input.feature_names)) return 0;
  const shape = m.input.shape.map(Number);
  const spatial = shape.length === 3 && shape[0] === 1 ? shape.slice(1) : shape;
  if (spatial.length === 2 && spatial[0] === spatial[1]) return spatial[0];
  if (spatial.length === 1) {
    const s = Math.round(Math.sqrt(spatial[0]));
    if (s * s === spatial[0] && s >= 4 && s <= 64) return s;
  }
  return 0;
}

/** The raw value of full ink: 16 for the digits data set, else about the top of the training range. */
function inkValue(m) {
  if (m.dataset && m.dataset.source === 'digits') return 16;
  const mean = m.scaler.mean;
  const scale = m.scaler.scale;
  return Math.max(...mean.map((v, i) => v + 2 * scale[i % scale.length]));
}

async function main() {
  setState('loading');
  let bundle;
  try {
    const ort = await importOrt();
    result.ort = { numThreads: ort.env.wasm.numThreads, crossOriginIsolated: !!globalThis.crossOriginIsolated };
    bundle = await loadBundle(ort, BUNDLE_URL, { threshold: THRESHOLD, onStep: (t) => { $('step').textContent = t + '…'; } });
    const n = Object.keys(bundle.manifest.graphs).length;
    check(`${Object.keys(bundle.graphs).map((r) => bundle.manifest.graphs[r].file).join(', ')}: sha256 match the manifest (WebCrypto), graphs belong to bundle ${bundle.bundleId.slice(0, 8)}…`);
    if (hasGolden(bundle)) {
      $('step').textContent = 'running the golden vectors…';
      const golden = await bundle.checkGolden();
      result.golden = golden;
      const worst = golden.reduce((a, r) => Math.max(a, r.maxAbs), 0);
      check(`${golden.length} golden vector outputs of ${n} graphs reproduced in this browser (max abs diff ${worst.toExponential(1)})`);
    } else {
      // a slim bundle without test_data/ (aeexport slim): valid, but nothing to reproduce
      result.golden = [];
      check('no golden vectors in this bundle (a slim bundle without test_data/): outputs not checked against stored ones', false);
    }
  } catch (e) {
    refuse(e);
    return;
  }
  const m = bundle.manifest;
  result.bundle_id = m.bundle_id;
  $('step').textContent = 'verified: ready';
  fact('bundle', m.bundle_id);
  fact('model', `${m.model.kind}, input ${JSON.stringify(m.input.shape)} → latent ${JSON.stringify(m.latent.shape)}`);
  fact('score', `${m.score.name} (${m.score.direction === 'higher_is_more_anomalous' ? 'higher = more anomalous' : m.score.direction})`);
  const thr = m.threshold;
  fact('threshold', `${fmt(bundle.threshold)}${thr.method === 'percentile' && thr.params ? ` (${thr.params.percentile}th percentile of ${thr.calibration_rows || ''} validation scores)` : ''}`);
  if (FPR !== undefined) fact('operating point', operatingPointFact(bundle));
  if (bundle.calibrationSize !== null) {
    fact('decisions', `label and p-value from the graph (p-value against ${bundle.calibrationSize} calibration scores; resolution ${fmt(1 / (bundle.calibrationSize + 1))})`);
  }
  if (bundle.series) fact('series', `windows of ${bundle.series.window} steps × ${bundle.inputShape[1]} columns; alarm ${bundle.series.alarm.k} of ${bundle.series.alarm.n}, hold-off ${bundle.series.alarm.hold_off}`);
  fact('runtime', `onnxruntime-web, wasm, ${result.ort.numThreads} thread${result.ort.numThreads > 1 ? 's' : ''}`);
  setupCsv(bundle);
  if (bundle.series) setupSeriesView(bundle, $, fmt);
  const side = imageSide(m);
  if (side) setupDraw(bundle, side);
  setState('ready');
}

function refuse(e) {
  const msg = e instanceof AeBundleError ? e.message : `unexpected error: ${e && e.message ? e.message : e}`;
  result.error = { code: e && e.code ? e.code : 'ERROR', message: msg };
  $('step').textContent = 'refused';
  check(msg, false);
  $('refused-message').textContent = msg;
  $('refused').hidden = false;
  setState('refused');
  console.error(e);
}

// ----------------------------------------------------------------------------- CSV
/** Values per CSV row: one time step (C) for a series bundle, else one whole input row. */
const csvWidth = (bundle) => (bundle.series ? bundle.inputShape[1] : bundle.width);

function setupCsv(bundle) {
  const names = bundle.featureNames;
  const header = names || Array.from({ length: csvWidth(bundle) }, (_, i) => `f${i}`);
  $('csv').hidden = false;
  $('csv-hint').textContent = names
    ? ` The header is matched to the ${names.length} feature names (${names.slice(0, 4).join(', ')}${names.length > 4 ? ', …' : ''}); other columns are ignored.`
    : ` ${csvWidth(bundle)} numeric columns in input order (this bundle has no feature names); a header line is optional.`;
  $('template').href = URL.createObjectURL(new Blob([header.join(',') + '\n'], { type: 'text/csv' }));
  const input = $('csv-file');
  input.addEventListener('change', () => { if (input.files[0]) scoreFile(bundle, input.files[0]); });
  const drop = $('drop');
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    const file = ev.dataTransfer.files[0];
    if (file) scoreFile(bundle, file);
  });
  $('csv-example').hidden = !hasGolden(bundle) || Boolean(bundle.series); // golden windows are not one series
  $('csv-example').addEventListener('click', async () => {
    const rows = await bundle.goldenRows();
    const text = [header.join(','), ...rows.map((r) => Array.from(r).join(','))].join('\n');
    scoreText(bundle, text, 'golden rows');
  });
}

async function scoreFile(bundle, file) {
  scoreText(bundle, new Uint8Array(await file.arrayBuffer()), file.name);
}

/** Score CSV rows given as text or as the file's bytes. */
async function scoreText(bundle, text, name) {
  document.body.dataset.csv = 'busy';
  $('csv-error').hidden = true;
  try {
    const t0 = performance.now();
    const spec = { width: csvWidth(bundle), featureNames: bundle.featureNames };
    const rows = typeof text === 'string' ? parseCsv(text, name, spec) : parseCsvBytes(text, name, spec);
    if (bundle.series) {
      result.csv = { ...(await scoreSeriesRows(bundle, rows, name)), ms: performance.now() - t0 };
      renderSeries(bundle, rows, result.csv);
      document.body.dataset.csv = 'done';
      return;
    }
    const decided = bundle.calibrationSize !== null ? await bundle.decide(rows) : null;
    const scores = decided ? decided.score : await bundle.score(rows);
    let labels = decided ? decided.label : bundle.label(scores);
    if (FPR !== undefined) labels = bundle.fprLabels(decided ? decided.pValue : [], FPR); // a score-only bundle: the typed error
    const pValues = decided ? decided.pValue : null;
    const flaggedIdx = [];
    labels.forEach((l, i) => { if (l) flaggedIdx.push(i); });
    flaggedIdx.sort((a, b) => scores[b] - scores[a]);
    const shown = flaggedIdx.slice(0, FLAGGED_SHOWN);
    let explanation = null;
    if (shown.length) {
      const sub = new Float32Array(shown.length * bundle.width);
      shown.forEach((r, k) => sub.set(rows.data.subarray(r * bundle.width, (r + 1) * bundle.width), k * bundle.width));
      explanation = await bundle.explain(sub, Math.min(TOP_K, bundle.width));
    }
    const ms = performance.now() - t0;
    result.csv = {
      name, n: rows.n, header: rows.header, ignored: rows.ignored, ms,
      scores: Array.from(scores), labels: Array.from(labels), p_values: pValues ? Array.from(pValues) : null,
      flagged: shown.map((r, k) => ({
        row: r, score: scores[r], indices: explanation.indices[k], shares: explanation.shares[k],
        names: explanation.names ? explanation.names[k] : null,
      })),
    };
    renderCsv(bundle, rows, { scores, labels, pValues }, shown, explanation, name, ms);
    document.body.dataset.csv = 'done';
  } catch (e) {
    const msg = e instanceof AeBundleError ? e.message : `could not score ${name}: ${e.message}`;
    result.csv = { name, error: msg };
    $('csv-error').textContent = msg;
    $('csv-error').hidden = false;
    $('csv-out').hidden = true;
    $('series').hidden = true;
    document.body.dataset.csv = 'error';
  }
}

function featureLabel(bundle, j, name) {
  if (name) return name;
  const side = imageSide(bundle.manifest);
  return side ? `px(${Math.floor(j / side)},${j % side})` : `f${j}`;
}

function renderSeries(bundle, rows, r) {
  $('csv-out').hidden = true;
  $('series').hidden = false;
  $('series-summary').textContent = `${r.name}: ${r.n} time steps scored in ${r.ms.toFixed(0)} ms; ${r.n - r.window + 1} full windows, `
    + `${r.window - 1} warm-up steps; ${r.n_anomalies} steps above the threshold ${fmt(bundle.threshold)}, ${r.n_alarms} alarms.`
    + (r.ignored && r.ignored.length ? ` Ignored columns: ${r.ignored.join(', ')}.` : '');
  const names = bundle.featureNames || Array.from({ length: bundle.inputShape[1] }, (_, i) => `f${i}`);
  const draw = () => drawSeries($('series-plot'), rows, r, Number($('series-column').value), names, fmt);
  $('series-column').onchange = draw;
  draw();
  $('series-download').onclick = () => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([seriesCsv(r)], { type: 'text/csv' }));
    a.download = r.name.replace(/\.csv$/i, '') + '.scores.csv';
    a.click();
  };
}

function renderCsv(bundle, rows, { scores, labels, pValues }, shown, explanation, name, ms) {
  $('csv-out').hidden = false;
  const nFlag = labels.reduce((a, b) => a + b, 0);
  $('csv-summary').textContent = `${name}: ${rows.n} rows scored in ${ms.toFixed(0)} ms; ${nFlag} flagged as anomalies `
    + (FPR !== undefined ? `(p-value ≤ fpr ${FPR}), ` : `(score > threshold ${fmt(bundle.threshold)}), `) + `${rows.n - nFlag} normal.`
    + (pValues ? ` Label and p-value come from the graph; a p-value is the share of held-out normal rows scoring at least as high (p ≤ 0.01 flags about 1% of normal rows).` : '')
    + (rows.ignored.length ? ` Ignored columns: ${rows.ignored.join(', ')}.` : '');
  drawHistogram($('hist'), scores, bundle.threshold);
  $('flagged-note').textContent = nFlag > shown.length ? `(the ${shown.length} highest of ${nFlag})` : '';
  const body = $('flagged').querySelector('tbody');
  body.replaceChildren();
  shown.forEach((r, k) => {
    const tr = document.createElement('tr');
    const feats = explanation.indices[k].map((j, i) => `${featureLabel(bundle, j, explanation.names && explanation.names[k][i])} ${(100 * explanation.shares[k][i]).toFixed(0)}%`);
    const score = pValues ? `${fmt(scores[r])} (p ${fmt(pValues[r])})` : fmt(scores[r]);
    for (const text of [String(r + 1), score, feats.join(', ')]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    body.append(tr);
  });
  if (!shown.length) {
    const tr = document.createElement('tr');
    tr.innerHTML = '<td colspan="3" class="muted">no row scored above the threshold</td>';
    body.append(tr);
  }
  $('download').onclick = () => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([scoresCsv(scores, labels, pValues)], { type: 'text/csv' }));
    a.download = name.replace(/\.csv$/i, '') + '.scores.csv';
    a.click();
  };
}

/** Score histogram: rows below the threshold blue, above orange; a long tail goes into a last "more" bin. */
function drawHistogram(canvas, scores, threshold) {
  const ctx = canvas.getContext('2d');
  const W = canvas.width;
  const H = canvas.height;
  const pad = { l: 44, r: 64, t: 22, b: 34 };
  ctx.clearRect(0, 0, W, H);
  const sorted = Float64Array.from(scores).sort();
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const lo = Math.min(0, sorted[0]);
  let hi = Math.max(3 * threshold, q(0.9) * 1.1);
  if (sorted[sorted.length - 1] <= hi) hi = Math.max(threshold * 1.1, sorted[sorted.length - 1] * 1.02);
  if (!(hi > lo)) hi = lo + 1;
  const bins = 40;
  const below = new Array(bins + 1).fill(0); // the last bin: scores above hi
  const above = new Array(bins + 1).fill(0);
  for (const s of scores) {
    const b = s > hi ? bins : Math.min(bins - 1, Math.max(0, Math.floor(((s - lo) / (hi - lo)) * bins)));
    (s > threshold ? above : below)[b]++;
  }
  const maxC = Math.max(1, ...below.map((c, i) => c + above[i]));
  const plotW = W - pad.l - pad.r;
  const x = (v) => pad.l + ((v - lo) / (hi - lo)) * plotW;
  const h = (c) => (c / maxC) * (H - pad.t - pad.b);
  const bw = plotW / bins;
  for (let i = 0; i <= bins; i++) {
    const left = i < bins ? pad.l + i * bw : W - pad.r + 12;
    const w = i < bins ? bw - 1 : 40;
    ctx.fillStyle = '#3b7dd8';
    ctx.fillRect(left, H - pad.b - h(below[i]), w, h(below[i]));
    ctx.fillStyle = '#e0702b';
    ctx.fillRect(left, H - pad.b - h(below[i]) - h(above[i]), w, h(above[i]));
  }
  ctx.strokeStyle = '#444';
  ctx.beginPath();
  ctx.moveTo(pad.l, H - pad.b);
  ctx.lineTo(W - pad.r, H - pad.b);
  ctx.stroke();
  ctx.strokeStyle = '#c00';
  ctx.setLineDash([6, 4]);
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(x(threshold), pad.t - 6);
  ctx.lineTo(x(threshold), H - pad.b);
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.lineWidth = 1;
  ctx.font = '12px system-ui, sans-serif';
  ctx.textAlign = 'center';
  ctx.fillStyle = '#222';
  const more = below[bins] + above[bins];
  for (let i = 0; i <= (more ? 3 : 4); i++) {
    const v = lo + (i / 4) * (hi - lo);
    ctx.fillText(fmt(v), x(v), H - pad.b + 16);
  }
  ctx.fillText(more ? `> ${fmt(hi)}` : '', W - pad.r + 32, H - pad.b + 16);
  ctx.textAlign = 'left';
  ctx.fillText(`rows (tallest bar: ${maxC})`, pad.l, pad.t - 8);
  ctx.fillStyle = '#c00';
  ctx.textAlign = 'left';
  ctx.fillText(`threshold ${fmt(threshold)}`, Math.min(W - pad.r - 100, x(threshold) + 6), pad.t + 14);
  ctx.fillStyle = '#222';
  ctx.textAlign = 'right';
  ctx.fillText('score', W - pad.r, H - 2);
}

// ----------------------------------------------------------------------------- drawing
function setupDraw(bundle, side) {
  const m = bundle.manifest;
  $('draw').hidden = false;
  $('grid-size').textContent = `(${side}×${side})`;
  if (m.dataset && m.dataset.anomaly_class !== undefined && m.dataset.anomaly_class !== null) {
    $('draw-normal').textContent = `digits other than ${m.dataset.anomaly_class}`;
    $('draw-anomaly').textContent = ` (a ${m.dataset.anomaly_class} is the anomaly class it never saw)`;
  }
  const ink = inkValue(m);
  const pad = $('pad');
  const ctx = pad.getContext('2d', { willReadFrequently: true });
  const cell = pad.width / side;
  // the pad holds only ink (transparent elsewhere); its grid is the element's CSS background
  pad.style.backgroundSize = `${100 / side}% ${100 / side}%`;
  const clear = () => ctx.clearRect(0, 0, pad.width, pad.height);
  clear();
  let drawing = false;
  let last = null;
  let strokes = 0;
  const pos = (ev) => {
    const r = pad.getBoundingClientRect();
    return [(ev.clientX - r.left) * (pad.width / r.width), (ev.clientY - r.top) * (pad.height / r.height)];
  };
  pad.addEventListener('pointerdown', (ev) => {
    drawing = true;
    last = pos(ev);
    pad.setPointerCapture(ev.pointerId);
    dot(last);
  });
  pad.addEventListener('pointermove', (ev) => {
    if (!drawing) return;
    const p = pos(ev);
    ctx.strokeStyle = '#111';
    ctx.lineWidth = cell * 0.9;
    ctx.lineCap = 'round';
    ctx.beginPath(); ctx.moveTo(...last); ctx.lineTo(...p); ctx.stroke();
    last = p;
  });
  const end = () => {
    if (!drawing) return;
    drawing = false;
    strokes++;
    scoreDrawing(bundle, side, ink, readPad(ctx, pad, side, ink), strokes);
  };
  pad.addEventListener('pointerup', end);
  pad.addEventListener('pointercancel', end);
  function dot(p) {
    ctx.fillStyle = '#111';
    ctx.beginPath(); ctx.arc(p[0], p[1], cell * 0.45, 0, 2 * Math.PI); ctx.fill();
  }
  $('clear').addEventListener('click', () => {
    clear();
    for (const id of ['view-input', 'view-recon', 'view-error']) $(id).getContext('2d').clearRect(0, 0, 96, 96);
    $('verdict').textContent = 'draw something';
    $('verdict').className = 'verdict';
    $('draw-score').textContent = '';
    $('meter-bar').style.width = '0';
  });
  $('example').hidden = !hasGolden(bundle);
  $('example').addEventListener('click', async () => {
    const rows = await bundle.goldenRows();
    const row = rows[(Number(document.body.dataset.example || -1) + 1) % rows.length];
    document.body.dataset.example = String(rows.indexOf(row));
    clear();
    const x = Float32Array.from(row);
    for (let i = 0; i < side * side; i++) {
      const v = Math.max(0, Math.min(1, x[i] / ink));
      ctx.fillStyle = `rgba(17,17,17,${v})`;
      ctx.fillRect((i % side) * cell, Math.floor(i / side) * cell, cell, cell);
    }
    strokes++;
    scoreDrawing(bundle, side, ink, x, strokes);
  });
  const mThr = $('meter-threshold');
  mThr.style.left = '50%';
  mThr.title = `threshold ${fmt(bundle.threshold)}`;
}

/** The pad as model input: the ink coverage of each cell (0..1) times the full-ink value, to 2 decimals. */
function readPad(ctx, pad, side, ink) {
  const img = ctx.getImageData(0, 0, pad.width, pad.height).data;
  const cell = pad.width / side;
  const x = new Float32Array(side * side);
  for (let r = 0; r < side; r++) {
    for (let c = 0; c < side; c++) {
      let s = 0;
      let k = 0;
      for (let yy = Math.floor(r * cell); yy < Math.floor((r + 1) * cell); yy++) {
        for (let xx = Math.floor(c * cell); xx < Math.floor((c + 1) * cell); xx++) {
          s += img[(yy * pad.width + xx) * 4 + 3] / 255; // ink = opacity
          k++;
        }
      }
      x[r * side + c] = Math.round((s / k) * ink * 100) / 100;
    }
  }
  return x;
}

function paintGrid(canvas, values, side, color) {
  const ctx = canvas.getContext('2d');
  const cell = canvas.width / side;
  for (let i = 0; i < side * side; i++) {
    ctx.fillStyle = color(values[i]);
    ctx.fillRect((i % side) * cell, Math.floor(i / side) * cell, Math.ceil(cell), Math.ceil(cell));
  }
}

async function scoreDrawing(bundle, side, ink, x, stroke) {
  document.body.dataset.drawBusy = '1';
  const [score] = await bundle.score(x);
  const xhat = (await bundle.reconstruct(x)).data;
  const err = await bundle.featureErrors(x, xhat);
  const label = score > bundle.threshold ? 1 : 0;
  const gray = (v) => {
    const g = Math.round(255 * (1 - Math.max(0, Math.min(1, v / ink))));
    return `rgb(${g},${g},${g})`;
  };
  paintGrid($('view-input'), x, side, gray);
  paintGrid($('view-recon'), xhat, side, gray);
  const top = Math.max(...err, 4 * bundle.threshold);
  paintGrid($('view-error'), err, side, (e) => {
    const t = Math.max(0, Math.min(1, e / top));
    return `rgb(255,${Math.round(255 * (1 - t))},${Math.round(255 * (1 - t))})`;
  });
  const v = $('verdict');
  v.textContent = label ? 'anomaly' : 'normal';
  v.className = 'verdict ' + (label ? 'anomaly' : 'normal');
  $('draw-score').textContent = `score ${fmt(score)} ${label ? '>' : '≤'} threshold ${fmt(bundle.threshold)}`;
  $('meter-bar').style.width = `${Math.min(100, (50 * score) / bundle.threshold)}%`;
  $('meter-bar').className = label ? 'anomaly' : 'normal';
  result.draw = { stroke, score, label, input: Array.from(x), reconstruction: Array.from(xhat) };
  document.body.dataset.draw = String(stroke);
  delete document.body.dataset.drawBusy;
}

main();
