/**
 * CSV rows for the page: the rules of examples/node/lib/table.js and aeruntime's CSV reader.
 *
 * - The first line is a header when a field is not a number (rule 1 of
 *   aeruntime.tables.header), when it is exactly the bundle's feature names, or when it is
 *   pandas' default 0,1,...,n-1; otherwise it is data.
 * - With a header and a bundle that names its features (manifest.input.feature_names),
 *   columns are matched by name: extra columns are ignored (and reported), missing ones
 *   are an error. Otherwise columns are positional and there must be one per input element.
 */

import { AeBundleError } from './bundle.js';

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity|nan)$/i;

const unquote = (c) => c.trim().replace(/^"(.*)"$/, '$1').trim();

export function parseNumber(token) {
  const t = unquote(token);
  if (!NUMBER.test(t)) return null;
  const low = t.toLowerCase().replace(/^\+/, '');
  if (low === 'nan' || low === '-nan') return NaN;
  if (low.endsWith('inf') || low.endsWith('infinity')) return low.startsWith('-') ? -Infinity : Infinity;
  return Number(t);
}

const invalid = (msg) => new AeBundleError('INVALID_INPUT', msg);

function isHeader(cells, featureNames) {
  const t = cells.map(unquote);
  if (t.some((c) => c !== '' && parseNumber(c) === null)) return true;
  if (featureNames && featureNames.length && featureNames.every((n) => t.includes(n)) && new Set(t).size === t.length) return true;
  return t.length >= 2 && t.every((c, i) => c === String(i));
}

/**
 * Parse CSV text into float32 rows for the bundle.
 * @param {string} text the file's text
 * @param {string} name the file's name (for messages)
 * @param {{width: number, featureNames: string[]|null}} spec
 * @returns {{data: Float32Array, n: number, columns: string[]|null, ignored: string[], header: boolean}}
 */
export function parseCsv(text, name, { width, featureNames }) {
  const rows = [];
  text.split(/\r?\n/).forEach((l, k) => {
    const r = l.split(',');
    if (r.some((c) => c.trim() !== '')) rows.push({ r, line: k + 1 });
  });
  if (rows.length === 0) throw invalid(`${name}: the CSV file is empty; expected a header and numeric rows.`);
  let header = null;
  if (isHeader(rows[0].r, featureNames)) {
    header = rows[0].r.map(unquote);
    rows.shift();
  }
  if (rows.length === 0) throw invalid(`${name}: the CSV file has a header but no rows.`);
  const fileWidth = header ? header.length : rows[0].r.length;
  let index = [...Array(fileWidth).keys()];
  let ignored = [];
  if (header && featureNames && featureNames.length) {
    const missing = featureNames.filter((n) => !header.includes(n));
    if (missing.length) {
      throw invalid(`${name}: missing ${missing.length} of the ${featureNames.length} feature columns the model was trained on: `
        + `${JSON.stringify(missing.slice(0, 20))}; the file has ${JSON.stringify(header.slice(0, 20))}. Columns are matched by name: rename or add them.`);
    }
    const dup = header.filter((n, i) => header.indexOf(n) !== i);
    if (dup.length) throw invalid(`${name}: the columns ${JSON.stringify([...new Set(dup)])} appear more than once; give every column its own name.`);
    index = featureNames.map((n) => header.indexOf(n));
    ignored = header.filter((n) => !featureNames.includes(n));
  } else if (fileWidth !== width) {
    throw invalid(`${name}: rows have ${fileWidth} columns, but the model expects ${width} (one per input element)`
      + `${featureNames ? '' : '; this bundle has no feature names, so columns are taken in order'}.`);
  }
  const data = new Float32Array(rows.length * index.length);
  rows.forEach(({ r, line }, i) => {
    if (r.length !== fileWidth) {
      throw invalid(`${name}: line ${line} has ${r.length} fields, but the ${header ? 'header' : 'first line'} has ${fileWidth}. Fix the malformed line.`);
    }
    index.forEach((j, c) => {
      const col = header ? JSON.stringify(header[j]) : String(j + 1);
      if (r[j].trim() === '') throw invalid(`${name}: missing value in column ${col}, line ${line}; every feature needs a number.`);
      const v = parseNumber(r[j]);
      if (v === null) throw invalid(`${name}: line ${line}, column ${col}: expected a number, got ${JSON.stringify(r[j])}. Drop or encode non-numeric columns first.`);
      if (!Number.isFinite(v)) throw invalid(`${name}: line ${line}, column ${col} is ${r[j].trim()}; replace NaN/Inf before scoring.`);
      data[i * index.length + c] = v;
    });
  });
  return { data, n: rows.length, columns: header ? index.map((j) => header[j]) : null, ignored, header: header !== null };
}

/** `score,label` CSV text, one line per row (scores as the float32 values, exactly). */
export function scoresCsv(scores, labels) {
  const lines = ['score,label'];
  for (let i = 0; i < scores.length; i++) lines.push(`${scores[i]},${labels[i]}`);
  return lines.join('\n') + '\n';
}
