/**
 * Input rows, host-agnostic: `.csv` text and `.npy` bytes (float32/float64, C order, never
 * pickled objects), the rules of aeruntime's readers (aeruntime.tables). The host reads the
 * file; this parses it. Rows in = rows out: every non-empty line after the header is a row,
 * scored or refused, never dropped.
 *
 * CSV, as aeruntime reads it:
 * - UTF-8, a leading BOM ignored; lines end in LF, CRLF or CR; empty lines are skipped (a
 *   line of blanks or commas is a row, and refused for its missing values);
 * - fields split at commas, "quoted" fields may hold commas and "" quotes, but not line breaks;
 *   blanks around a number and a leading + are accepted; nan/inf are refused;
 * - the header rule of aeruntime.tables.header, on the first non-empty line (fields stripped):
 *   1. a field that is not empty and not a number (Python's float()): a header;
 *   2. otherwise a line with an empty field is data (a header-less file whose first row has
 *      a gap keeps that row, refused for the gap, never lost);
 *   3. all numbers, equal to the bundle's feature names: a header;
 *   4. all numbers, exactly 0,1,...,n-1 (n >= 2; pandas' default column names): a header;
 *   5. otherwise: data.
 * - With a header and a bundle that names its features (manifest.input.feature_names),
 *   columns are matched by name: extra columns are ignored (and reported), missing ones are
 *   an error. Otherwise columns are positional and there must be one per input element.
 */

import { AeBundleError } from './errors.js';
import { pyFloat } from './rows.js';

/** A value as pyarrow's CSV reader takes it: blanks around it, an optional sign, no underscores. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity|nan)$/i;

export function parseNumber(token) {
  const t = token.trim();
  if (!NUMBER.test(t)) return null;
  const low = t.toLowerCase().replace(/^\+/, '');
  if (low === 'nan' || low === '-nan') return NaN;
  if (low.endsWith('inf') || low.endsWith('infinity')) return low.startsWith('-') ? -Infinity : Infinity;
  return Number(t);
}

const invalid = (msg) => new AeBundleError('INVALID_INPUT', msg);

/** One CSV line's fields (RFC 4180 quotes); null when a quote is left open (a value holding a line break). */
export function splitLine(line) {
  const cells = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') { cell += '"'; i++; }
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') { cells.push(cell); cell = ''; }
    else cell += ch;
  }
  if (quoted) return null;
  cells.push(cell);
  return cells;
}

/** The header rule of aeruntime.tables.header (see the top of this file) for the first row's fields. */
export function isHeader(cells, featureNames) {
  const t = cells.map((c) => c.trim());
  if (t.every((c) => pyFloat(c) !== null)) {
    if (featureNames && featureNames.length && featureNames.every((n) => t.includes(n)) && new Set(t).size === t.length) return true;
    return t.length >= 2 && t.every((c, i) => c === String(i));
  }
  return t.some((c) => c !== '' && pyFloat(c) === null);
}

/** The non-empty lines of CSV text as {r: fields, line: 1-based line number}. */
function csvRows(text, name) {
  const rows = [];
  text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/).forEach((l, k) => {
    if (l === '') return;
    const r = splitLine(l);
    if (r === null) {
      throw invalid(`${name}: line ${k + 1} leaves a quote open: a quoted value holds a line break, or a quote is unclosed; aeruntime does not read line breaks inside values either. Fix that line.`);
    }
    rows.push({ r, line: k + 1 });
  });
  return rows;
}

/**
 * Parse CSV text into float32 rows for the bundle.
 * @param {string} text the file's text
 * @param {string} name the file's name (for messages)
 * @param {{width: number, featureNames: string[]|null}} spec width: values per row the model takes
 * @returns {{data: Float32Array, n: number, shape: number[], columns: string[]|null, ignored: string[], header: boolean}}
 *   data holds n * width values, row-major; shape is (n, width)
 */
export function parseCsv(text, name, { width, featureNames }) {
  const rows = csvRows(text, name);
  if (rows.length === 0 || !rows[0].r.some((c) => c.trim() !== '')) throw invalid(`${name}: the CSV file is empty; expected a header and numeric rows.`);
  let header = null;
  if (isHeader(rows[0].r, featureNames)) {
    header = rows[0].r.map((c) => c.trim());
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
  return { data, n: rows.length, shape: [rows.length, index.length], columns: header ? index.map((j) => header[j]) : null, ignored, header: header !== null };
}

/**
 * Parse the bytes of a `.csv` file (see parseCsv): UTF-8 text, a gzip-compressed file named
 * as compressed rather than read as garbage.
 */
export function parseCsvBytes(bytes, name, spec) {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw invalid(`${name}: the file is gzip-compressed, not CSV text; decompress it first (gunzip -k), then score the .csv.`);
  }
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalid(`${name}: not a readable CSV file: it is not UTF-8 text. Save it as UTF-8 CSV.`);
  }
  return parseCsv(text, name, spec);
}

/** `score,label` (and `p_value` when given) CSV text, one line per row (float32 values, exactly). */
export function scoresCsv(scores, labels, pValues = null) {
  const lines = [pValues ? 'score,label,p_value' : 'score,label'];
  for (let i = 0; i < scores.length; i++) lines.push(pValues ? `${scores[i]},${labels[i]},${pValues[i]}` : `${scores[i]},${labels[i]}`);
  return lines.join('\n') + '\n';
}

/**
 * Parse a `.npy` file of float32 or float64 values (C order; object arrays are refused, never unpickled).
 * @param {Uint8Array} bytes the file
 * @param {string} name the file's name (for messages)
 * @returns {{data: Float32Array|Float64Array, shape: number[]}}
 */
export function parseNpy(bytes, name) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const latin1 = (a, b) => String.fromCharCode(...bytes.subarray(a, b));
  if (bytes.length < 10 || bytes[0] !== 0x93 || latin1(1, 6) !== 'NUMPY') {
    throw invalid(`${name}: not a .npy file (no \\x93NUMPY magic); save arrays with np.save.`);
  }
  const major = bytes[6];
  let headerLen;
  let offset;
  if (major === 1) { headerLen = view.getUint16(8, true); offset = 10; }
  else if (major === 2 || major === 3) { headerLen = view.getUint32(8, true); offset = 12; }
  else throw invalid(`${name}: unsupported .npy format version ${major}; expected 1, 2 or 3.`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(offset, offset + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) {
    throw invalid(`${name}: unsupported .npy header ${JSON.stringify(header.trim())}; expected a plain numeric array.`);
  }
  const types = { '<f4': [4, true], '>f4': [4, false], '<f8': [8, true], '>f8': [8, false] };
  const t = types[descr[1]];
  if (!t) {
    throw invalid(`${name}: dtype ${JSON.stringify(descr[1])} is not supported; expected float32 or float64 `
      + '(object arrays are never unpickled). Convert with X.astype(np.float32) before np.save.');
  }
  if (fortran[1] === 'True') {
    throw invalid(`${name}: the array is stored in Fortran order; save np.ascontiguousarray(X) instead.`);
  }
  const shape = shapeM[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const [size, little] = t;
  const start = offset + headerLen;
  if (bytes.length - start !== count * size) {
    throw invalid(`${name}: holds ${bytes.length - start} data bytes, but shape (${shape.join(', ')}) needs ${count * size}; the file is truncated.`);
  }
  const data = size === 4 ? new Float32Array(count) : new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = size === 4 ? view.getFloat32(start + i * 4, little) : view.getFloat64(start + i * 8, little);
  return { data, shape };
}
