/**
 * Series bundles (docs/bundle-format.md, section 11): per-step causal scores and alarms, the
 * JavaScript port of aeruntime.series (windows, alarm), shared by Node and the page.
 *
 *   const s = new SeriesScorer(bundle);             // bundle.series must be set
 *   const out = await s.score(rows, m);             // rows: m * C values (Float32Array/Float64Array)
 *   // out.score (Float32Array, NaN = warm-up), out.label, out.warmup, out.alarm (Uint8Array), each (m,)
 *
 * The score of row t is the score of the window of rows t-W+1 .. t; the first W-1 rows of the series
 * are warm-up (score NaN, label 0, warmup 1). score() may be called with consecutive chunks: the last
 * W-1 rows are carried, so a window spanning two chunks is scored exactly as in one piece, and the
 * alarm rule's state carries too.
 */

import { AeBundleError } from './errors.js';

/** The series section of a manifest (checked for what a scorer needs), or null for a row bundle. */
export function seriesOf(manifest) {
  const s = manifest.series;
  if (s === undefined || s === null) return null;
  const shape = manifest.input.shape.map(Number);
  const a = (s && s.alarm) || {};
  const int = (v, lo) => Number.isInteger(v) && v >= lo;
  if (s.step_score !== 'window_end') {
    throw new AeBundleError('MANIFEST', `manifest.series.step_score is ${JSON.stringify(s.step_score)}; this consumer knows "window_end" only. Update the consumer, or re-export the bundle.`);
  }
  if (shape.length !== 2 || s.window !== shape[0] || !int(s.window, 1)) {
    throw new AeBundleError('MANIFEST', `manifest.series.window (${JSON.stringify(s.window)}) must be an integer >= 1 equal to input.shape[0] of input.shape [W, C] (${JSON.stringify(shape)}); re-export the bundle.`);
  }
  if (!int(a.k, 1) || !int(a.n, a.k) || !int(a.hold_off, 0)) {
    throw new AeBundleError('MANIFEST', `manifest.series.alarm must hold integers 1 <= k <= n and hold_off >= 0, got ${JSON.stringify(s.alarm)}; re-export the bundle.`);
  }
  return s;
}

/** k of the last n labels, then hold_off quiet steps: aeruntime.series.alarm.AlarmRule, step for step. */
export class AlarmRule {
  constructor(k = 1, n = 1, holdOff = 0) {
    if (!(k >= 1 && k <= n && holdOff >= 0)) throw new AeBundleError('INVALID_INPUT', `alarm rule needs 1 <= k <= n and hold_off >= 0, got k=${k}, n=${n}, hold_off=${holdOff}.`);
    this.k = k;
    this.n = n;
    this.holdOff = holdOff;
    this._ring = new Uint8Array(n);
    this._pos = 0;
    this._count = 0;
    this._quiet = 0;
  }

  static fromManifest(series) {
    const a = series.alarm;
    return new AlarmRule(a.k, a.n, a.hold_off);
  }

  /** The alarm (0 or 1) of the next step, whose label is `label` (0 or 1). */
  step(label) {
    const pos = this._pos;
    this._count += label - this._ring[pos];
    this._ring[pos] = label;
    this._pos = pos + 1 < this.n ? pos + 1 : 0;
    if (this._quiet) {
      this._quiet -= 1;
      return 0;
    }
    if (this._count >= this.k) {
      this._quiet = this.holdOff;
      return 1;
    }
    return 0;
  }

  /** Alarms (Uint8Array (m,)) of the next m labels, continuing the previous call. */
  apply(labels) {
    return Uint8Array.from(labels, (v) => this.step(v ? 1 : 0));
  }
}

/** Windows (k, W, C) fed per onnxruntime call: about 4 MiB of input, as aeruntime. */
const FEED_BYTES = 4 << 20;

/** Chunked per-step scores, labels, warm-up flags and alarms of one series (see the top of this file). */
export class SeriesScorer {
  constructor(bundle, name = 'series') {
    const series = bundle.series;
    if (!series) throw new AeBundleError('INVALID_INPUT', `${name}: this bundle is not a series bundle (no manifest.series); score its rows with score().`);
    [this.window, this.columns] = bundle.inputShape;
    this.bundle = bundle;
    this.name = name;
    this.rows = 0; // rows scored so far
    this.threshold = bundle.threshold;
    this.rule = AlarmRule.fromManifest(series);
    this._carry = new Float32Array(0); // the last <= W-1 rows, row-major
    this._feed = Math.max(1, Math.floor(FEED_BYTES / (4 * this.window * this.columns)));
  }

  /**
   * Per-step outputs of the next m rows (m * C values, row-major) of the series; a bundle whose scorer
   * outputs p_value adds pValue (Float32Array, the graph's p_value of each step's window, NaN = warm-up).
   * @returns {Promise<{score: Float32Array, label: Uint8Array, warmup: Uint8Array, alarm: Uint8Array, pValue?: Float32Array}>}
   */
  async score(rows, m) {
    const c = this.columns;
    const w = this.window;
    if (rows.length !== m * c) {
      throw new AeBundleError('INVALID_INPUT', `${this.name}: rows from ${this.rows} hold ${rows.length} values, expected ${m} rows of ${c} columns: the bundle's windows are ${w} rows of ${c} columns; pass those columns.`);
    }
    for (let i = 0; i < rows.length; i++) {
      if (!Number.isFinite(rows[i])) {
        throw new AeBundleError('INVALID_INPUT', `${this.name}: row ${this.rows + Math.floor(i / c)}, column ${i % c} is ${rows[i]}; expected finite numbers (no NaN or Inf) in every row of a series.`);
      }
    }
    const kept = this._carry.length / c;
    const ext = new Float32Array((kept + m) * c);
    ext.set(this._carry);
    ext.set(rows, kept * c);
    const total = kept + m;
    const nWin = Math.max(total - w + 1, 0);
    const score = new Float32Array(m).fill(NaN);
    const decides = this.bundle.calibrationSize !== null;
    const pValue = decides ? new Float32Array(m).fill(NaN) : null;
    const first = m - nWin; // rows of this chunk still in warm-up
    for (let i = 0; i < nWin; i += this._feed) {
      const b = Math.min(this._feed, nWin - i);
      const batch = new Float32Array(b * w * c);
      for (let j = 0; j < b; j++) batch.set(ext.subarray((i + j) * c, (i + j + w) * c), j * w * c);
      const x = { data: batch, shape: [b, w, c] };
      if (decides) {
        const out = await this.bundle.decide(x, { batchSize: b });
        score.set(out.score, first + i);
        pValue.set(out.pValue, first + i);
      } else {
        score.set(await this.bundle.score(x, { batchSize: b }), first + i);
      }
    }
    this._carry = ext.slice(Math.max(total - (w - 1), 0) * c);
    const warmup = Uint8Array.from(score, (s) => (Number.isNaN(s) ? 1 : 0));
    const label = Uint8Array.from(score, (s) => (s > this.threshold ? 1 : 0));
    this.rows += m;
    const out = { score, label, warmup, alarm: this.rule.apply(label) };
    return decides ? { ...out, pValue } : out;
  }
}

/** Per-step outputs of a whole series (n * C values) scored in chunks of `chunkRows` rows. */
export async function scoreSeries(bundle, rows, n, { chunkRows = 65536, name = 'series' } = {}) {
  const c = bundle.inputShape[1];
  const w = bundle.inputShape[0];
  if (n < w) {
    throw new AeBundleError('INVALID_INPUT', `${name}: the series has ${n} rows, fewer than the bundle's window of ${w} rows; expected at least ${w} rows (one full window) to score.`);
  }
  const scorer = new SeriesScorer(bundle, name);
  const out = { score: new Float32Array(n), label: new Uint8Array(n), warmup: new Uint8Array(n), alarm: new Uint8Array(n) };
  if (bundle.calibrationSize !== null) out.pValue = new Float32Array(n);
  for (let start = 0; start < n; start += chunkRows) {
    const k = Math.min(chunkRows, n - start);
    const part = await scorer.score(rows.subarray(start * c, (start + k) * c), k);
    for (const key of Object.keys(out)) out[key].set(part[key], start);
  }
  return out;
}
