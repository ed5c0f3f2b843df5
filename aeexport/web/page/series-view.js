/**
 * The series view of the page (series bundles, docs/bundle-format.md section 11): a CSV's rows are
 * time steps, scored by the core's SeriesScorer (one output per row: score, label, warmup, alarm; the
 * alarm rule of the manifest), then plotted on one canvas: the series (a chosen column or all, each
 * standardised) above, the per-step score below with the threshold line, warm-up shaded and the
 * alarms marked on both panels. Plain canvas, no dependency.
 */

import { scoreSeries } from './core/series.js';

const COLORS = ['#3b7dd8', '#2e7d32', '#8e44ad', '#e0702b', '#00838f', '#6d4c41', '#c2185b', '#546e7a'];

/** Score a parsed series ({data, n}) and keep what the view and the tests need. */
export async function scoreSeriesRows(bundle, rows, name) {
  const out = await scoreSeries(bundle, rows.data, rows.n, { name });
  return {
    name, n: rows.n, series: true, window: bundle.series.window, alarm_rule: bundle.series.alarm, threshold: bundle.threshold,
    header: rows.header, ignored: rows.ignored,
    scores: Array.from(out.score, (s, i) => (out.warmup[i] ? null : s)),
    labels: Array.from(out.label), warmup: Array.from(out.warmup), alarms: Array.from(out.alarm),
    p_values: out.pValue ? Array.from(out.pValue, (v, i) => (out.warmup[i] ? null : v)) : null,
    n_anomalies: out.label.reduce((a, b) => a + b, 0), n_alarms: out.alarm.reduce((a, b) => a + b, 0),
  };
}

/** `score,label[,p_value],warmup,alarm` CSV text, one line per time step (nan during the warm-up). */
export function seriesCsv(r) {
  const p = r.p_values;
  const lines = [p ? 'score,label,p_value,warmup,alarm' : 'score,label,warmup,alarm'];
  for (let i = 0; i < r.n; i++) {
    const pv = p ? `${r.warmup[i] ? 'nan' : p[i]},` : '';
    lines.push(`${r.warmup[i] ? 'nan' : r.scores[i]},${r.labels[i]},${pv}${r.warmup[i]},${r.alarms[i]}`);
  }
  return lines.join('\n') + '\n';
}

/** Fill the column picker (all, or one of the bundle's C columns) and redraw on change. */
export function setupSeriesView(bundle, $, fmt) {
  const names = bundle.featureNames || Array.from({ length: bundle.inputShape[1] }, (_, i) => `f${i}`);
  const pick = $('series-column');
  pick.replaceChildren(...['all columns', ...names].map((text, i) => Object.assign(document.createElement('option'), { value: String(i - 1), text })));
  $('series-note').textContent = `A series bundle: each CSV row is one time step of ${names.length} columns (${names.slice(0, 4).join(', ')}${names.length > 4 ? ', …' : ''}); `
    + `the score of step t is that of the window of the ${bundle.series.window} steps ending at t. The first ${bundle.series.window - 1} steps are warm-up (no score, label 0). `
    + `Alarm rule: ${bundle.series.alarm.k} of the last ${bundle.series.alarm.n} steps above the threshold ${fmt(bundle.threshold)}, then ${bundle.series.alarm.hold_off} quiet steps.`;
  return names;
}

/** Plot one scored series on `canvas`: rows (n * C values), the result of scoreSeriesRows, a column (-1 = all). */
export function drawSeries(canvas, rows, r, column, names, fmt) {
  const ctx = canvas.getContext('2d');
  const W = canvas.width;
  const H = canvas.height;
  const pad = { l: 56, r: 16, t: 22, b: 30 };
  const gap = 28;
  const top = { y0: pad.t, y1: pad.t + (H - pad.t - pad.b - gap) * 0.5 };
  const bot = { y0: top.y1 + gap, y1: H - pad.b };
  const c = names.length;
  const n = r.n;
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, H);
  const x = (i) => pad.l + (n > 1 ? (i / (n - 1)) * (W - pad.l - pad.r) : 0);
  // warm-up shaded, alarms as red bars across both panels
  ctx.fillStyle = '#eceff3';
  for (const p of [top, bot]) ctx.fillRect(pad.l, p.y0, x(Math.min(r.window - 1, n - 1)) - pad.l, p.y1 - p.y0);
  ctx.fillStyle = 'rgba(198, 40, 40, 0.55)';
  r.alarms.forEach((a, i) => { if (a) ctx.fillRect(x(i) - 1, top.y0, 2, bot.y1 - top.y0); });
  // the series: the chosen column in its units, or every column standardised
  const cols = column < 0 ? [...Array(c).keys()] : [column];
  const stats = cols.map((j) => {
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) { const v = rows.data[i * c + j]; s += v; s2 += v * v; }
    const mean = s / n;
    const sd = Math.sqrt(Math.max(s2 / n - mean * mean, 0)) || 1;
    return column < 0 ? { mean, sd } : { mean: 0, sd: 1 };
  });
  let lo = Infinity;
  let hi = -Infinity;
  cols.forEach((j, k) => { for (let i = 0; i < n; i++) { const v = (rows.data[i * c + j] - stats[k].mean) / stats[k].sd; lo = Math.min(lo, v); hi = Math.max(hi, v); } });
  if (!(hi > lo)) hi = lo + 1;
  const yTop = (v) => top.y1 - ((v - lo) / (hi - lo)) * (top.y1 - top.y0);
  cols.forEach((j, k) => {
    ctx.strokeStyle = COLORS[j % COLORS.length];
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      const v = (rows.data[i * c + j] - stats[k].mean) / stats[k].sd;
      if (i) ctx.lineTo(x(i), yTop(v)); else ctx.moveTo(x(i), yTop(v));
    }
    ctx.stroke();
  });
  // the per-step score, with the threshold line
  const scored = r.scores.filter((s) => s !== null);
  let sHi = Math.max(r.threshold * 1.5, ...scored.slice().sort((a, b) => a - b).slice(Math.floor(scored.length * 0.995)));
  if (!(sHi > 0)) sHi = 1;
  const sLo = Math.min(0, ...scored);
  const yBot = (v) => bot.y1 - ((Math.min(v, sHi) - sLo) / (sHi - sLo)) * (bot.y1 - bot.y0);
  ctx.strokeStyle = '#1d2330';
  ctx.beginPath();
  let on = false;
  r.scores.forEach((s, i) => {
    if (s === null) { on = false; return; }
    if (on) ctx.lineTo(x(i), yBot(s)); else ctx.moveTo(x(i), yBot(s));
    on = true;
  });
  ctx.stroke();
  ctx.fillStyle = '#e0702b';
  r.labels.forEach((l, i) => { if (l) ctx.fillRect(x(i) - 1.5, yBot(r.scores[i]) - 1.5, 3, 3); });
  ctx.strokeStyle = '#c00';
  ctx.setLineDash([6, 4]);
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.moveTo(pad.l, yBot(r.threshold));
  ctx.lineTo(W - pad.r, yBot(r.threshold));
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.lineWidth = 1;
  // axes and words
  ctx.strokeStyle = '#9aa3af';
  for (const p of [top, bot]) ctx.strokeRect(pad.l, p.y0, W - pad.l - pad.r, p.y1 - p.y0);
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillStyle = '#222';
  ctx.textAlign = 'left';
  const what = column < 0 ? `all ${c} columns, each standardised` : names[column];
  ctx.fillText(`series: ${what}`, pad.l, top.y0 - 6);
  ctx.fillText(`score per step (window ${r.window}); ${r.n_anomalies} steps above the threshold, ${r.n_alarms} alarms`, pad.l, bot.y0 - 6);
  ctx.textAlign = 'right';
  ctx.fillText(fmt(hi), pad.l - 4, top.y0 + 10);
  ctx.fillText(fmt(lo), pad.l - 4, top.y1);
  ctx.fillText(fmt(sHi), pad.l - 4, bot.y0 + 10);
  ctx.fillText(fmt(sLo), pad.l - 4, bot.y1);
  ctx.fillStyle = '#c00';
  ctx.fillText(`threshold ${fmt(r.threshold)}`, W - pad.r - 4, yBot(r.threshold) - 4);
  ctx.fillStyle = '#222';
  ctx.textAlign = 'center';
  for (let k = 0; k <= 4; k++) {
    const i = Math.round((k / 4) * (n - 1));
    ctx.fillText(String(i), x(i), H - pad.b + 16);
  }
  ctx.textAlign = 'right';
  ctx.fillText('time step (row)', W - pad.r, H - 2);
}
