/**
 * Rows as numbers, host-agnostic: the batch shape every graph call takes, the golden
 * comparison rule (numpy's isclose), the user's threshold and Python's float() of a text.
 */

import { AeBundleError } from './errors.js';

export const prod = (shape) => shape.reduce((a, b) => a * b, 1);

/**
 * Normalize rows to a float32 batch of shape (n, ...rowShape).
 * @param {Float32Array|Float64Array|number[]|number[][]|{data: ArrayLike<number>, shape: number[]}} x
 * @returns {{data: Float32Array, n: number}}
 */
export function toBatch(x, rowShape, what = 'x') {
  const width = prod(rowShape);
  let flat;
  let n;
  if (x && x.data !== undefined && (Array.isArray(x.shape) || Array.isArray(x.dims))) {
    const shape = (x.shape || x.dims).map(Number);
    flat = x.data;
    n = shape.length ? shape[0] : 0;
    if (shape.length < 2 || prod(shape.slice(1)) !== width) {
      throw new AeBundleError('INVALID_INPUT', `${what} has shape (${shape.join(', ')}), but the model expects (n_rows, ${rowShape.join(', ')}) or (n_rows, ${width}) flattened. Reshape the rows.`);
    }
  } else if (Array.isArray(x) && Array.isArray(x[0])) {
    n = x.length;
    flat = new Float32Array(n * width);
    x.forEach((row, i) => {
      const r = row.flat(Infinity);
      if (r.length !== width) {
        throw new AeBundleError('INVALID_INPUT', `${what} row ${i} has ${r.length} values, but the model expects ${width} (shape ${JSON.stringify(rowShape)}).`);
      }
      flat.set(r, i * width);
    });
  } else if (x && typeof x.length === 'number') {
    if (x.length % width !== 0) {
      throw new AeBundleError('INVALID_INPUT', `${what} holds ${x.length} values, which is not a whole number of rows of ${width} (shape ${JSON.stringify(rowShape)}).`);
    }
    flat = x;
    n = x.length / width;
  } else {
    throw new AeBundleError('INVALID_INPUT', `${what} must be a typed array, an array of rows or {data, shape}; got ${typeof x}.`);
  }
  if (n === 0) {
    throw new AeBundleError('INVALID_INPUT', `${what} has no rows; expected at least one row of shape ${JSON.stringify(rowShape)}.`);
  }
  const data = flat instanceof Float32Array ? flat : Float32Array.from(flat, Number);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new AeBundleError('INVALID_INPUT', `${what} holds a non-finite value (${flat[i]}) at row ${Math.floor(i / width)}, column ${i % width} (after the cast to float32); replace NaN/Inf before scoring.`);
    }
  }
  return { data, n };
}

/**
 * Compare actual with expected values: |a - e| <= atol + rtol * |e| element-wise (numpy's isclose).
 * @returns {{maxAbs: number, maxRel: number, ok: boolean, worst: number}}
 */
export function compare(actual, expected, tol) {
  let maxAbs = 0;
  let maxRel = 0;
  let ok = actual.length === expected.length;
  let worst = -1;
  let worstExcess = -Infinity;
  for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
    const a = actual[i];
    const e = expected[i];
    const d = Math.abs(a - e);
    if (!Number.isFinite(a) || !(d <= tol.atol + tol.rtol * Math.abs(e))) ok = false;
    const excess = Number.isFinite(d) ? d - (tol.atol + tol.rtol * Math.abs(e)) : Infinity;
    if (excess > worstExcess) { worstExcess = excess; worst = i; }
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? Infinity : d;
    if (Math.abs(e) > tol.atol) maxRel = Math.max(maxRel, d / Math.abs(e));
  }
  return { maxAbs, maxRel, ok, worst };
}

/** A threshold given by the user: a finite number, else INVALID_INPUT. */
export function checkThreshold(value) {
  const t = Number(value);
  if (value === null || value === '' || typeof value === 'boolean' || !Number.isFinite(t)) {
    throw new AeBundleError('INVALID_INPUT', `threshold must be a finite number, got ${JSON.stringify(value)}; pass e.g. --threshold 0.5 (see manifest.threshold.stats for the score scale).`);
  }
  return t;
}

/** Python's float(text) for the texts aeexport writes (and its spellings of inf/nan); null when it would raise. */
export function pyFloat(text) {
  const t = String(text).trim();
  if (/^[+-]?(inf|infinity)$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  if (/^[+-]?nan$/i.test(t)) return NaN;
  if (!/^[+-]?(\d(_?\d)*(\.(\d(_?\d)*)?)?|\.\d(_?\d)*)([eE][+-]?\d(_?\d)*)?$/.test(t)) return null;
  return Number(t.replace(/_/g, ''));
}
