'use strict';
/**
 * Reading input rows: `.npy` (float32/float64, C order, never pickled objects)
 * and `.csv` (optional header line, numeric columns), the same rules as
 * aeruntime's `read_table`. When the bundle's manifest names its training
 * columns (`input.feature_names`), a CSV with a header is matched to them by
 * name: extra columns are ignored (and reported), missing ones are an error;
 * arrays and header-less CSV stay positional.
 */

const fs = require('fs');
const path = require('path');
const { AeBundleError } = require('./errors');

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity|nan)$/i;

function parseNumber(token) {
  const t = token.trim().replace(/^"(.*)"$/, '$1').trim();
  if (!NUMBER.test(t)) return null;
  const low = t.toLowerCase().replace(/^\+/, '');
  if (low === 'nan' || low === '-nan') return NaN;
  if (low.endsWith('inf') || low.endsWith('infinity')) return low.startsWith('-') ? -Infinity : Infinity;
  return Number(t);
}

function invalid(msg) {
  return new AeBundleError('INVALID_INPUT', msg);
}

/**
 * Read a `.npy` file of float32 or float64 values.
 * @returns {{data: Float64Array|Float32Array, shape: number[]}}
 */
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') {
    throw invalid(`${file}: not a .npy file (no \\x93NUMPY magic); save arrays with np.save.`);
  }
  const major = buf.readUInt8(6);
  let headerLen;
  let offset;
  if (major === 1) { headerLen = buf.readUInt16LE(8); offset = 10; }
  else if (major === 2 || major === 3) { headerLen = buf.readUInt32LE(8); offset = 12; }
  else throw invalid(`${file}: unsupported .npy format version ${major}; expected 1, 2 or 3.`);
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', offset, offset + headerLen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeM) {
    throw invalid(`${file}: unsupported .npy header ${JSON.stringify(header.trim())}; expected a plain numeric array.`);
  }
  const types = { '<f4': [4, true], '>f4': [4, false], '<f8': [8, true], '>f8': [8, false] };
  const t = types[descr[1]];
  if (!t) {
    throw invalid(`${file}: dtype ${JSON.stringify(descr[1])} is not supported; expected float32 or float64 `
      + '(object arrays are never unpickled). Convert with X.astype(np.float32) before np.save.');
  }
  if (fortran[1] === 'True') {
    throw invalid(`${file}: the array is stored in Fortran order; save np.ascontiguousarray(X) instead.`);
  }
  const shape = shapeM[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const [size, little] = t;
  const start = offset + headerLen;
  if (buf.length - start !== count * size) {
    throw invalid(`${file}: holds ${buf.length - start} data bytes, but shape (${shape.join(', ')}) needs ${count * size}; the file is truncated.`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset + start, count * size);
  const data = size === 4 ? new Float32Array(count) : new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = size === 4 ? view.getFloat32(i * 4, little) : view.getFloat64(i * 8, little);
  return { data, shape };
}

/**
 * Pick the columns named `featureNames` from a header, in that order.
 * @returns {{index: number[], ignored: string[]}}
 */
function selectColumns(file, header, featureNames) {
  const missing = featureNames.filter((n) => !header.includes(n));
  if (missing.length) {
    throw invalid(`${file}: missing ${missing.length} of the ${featureNames.length} feature columns the model was trained on: `
      + `${JSON.stringify(missing.slice(0, 20))}; the file has ${JSON.stringify(header.slice(0, 20))}. Columns are matched by name: rename or add them.`);
  }
  const dup = header.filter((n, i) => header.indexOf(n) !== i);
  if (dup.length) throw invalid(`${file}: the columns ${JSON.stringify([...new Set(dup)])} appear more than once; give every column its own name.`);
  return { index: featureNames.map((n) => header.indexOf(n)), ignored: header.filter((n) => !featureNames.includes(n)) };
}

/**
 * Read a numeric `.csv` file: an optional header line, then one row per line.
 * @param {string} file
 * @param {string[]|null} [featureNames] the bundle's training columns: select them by name
 * @returns {{data: Float64Array, shape: number[], header: string[]|null, columns: string[]|null, ignored: string[]}}
 */
function readCsv(file, featureNames = null) {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split(/\r?\n/);
  const rows = [];
  lines.forEach((l, k) => {
    const r = l.split(',');
    if (r.some((c) => c.trim() !== '')) rows.push({ r, line: k + 1 });
  });
  if (rows.length === 0) throw invalid(`${file}: the CSV file is empty; expected a header and numeric rows.`);
  let header = null;
  if (!rows[0].r.every((c) => parseNumber(c) !== null)) {
    header = rows[0].r.map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
    rows.shift();
  }
  const width = header ? header.length : rows.length ? rows[0].r.length : 0;
  let index = [...Array(width).keys()];
  let ignored = [];
  if (header && featureNames && featureNames.length) ({ index, ignored } = selectColumns(file, header, featureNames));
  const k = index.length;
  const data = new Float64Array(rows.length * k);
  rows.forEach(({ r, line }, i) => {
    if (r.length !== width) {
      throw invalid(`${file}: line ${line} has ${r.length} fields, but the ${header ? 'header' : 'first line'} has ${width}. Fix the malformed line.`);
    }
    index.forEach((j, c) => {
      const name = header ? JSON.stringify(header[j]) : String(j + 1);
      if (r[j].trim() === '') throw invalid(`${file}: missing value in column ${name}, line ${line}; every feature needs a number.`);
      const v = parseNumber(r[j]);
      if (v === null) {
        throw invalid(`${file}: line ${line}, column ${name}: expected a number, got ${JSON.stringify(r[j])}. Drop or encode non-numeric columns first.`);
      }
      data[i * k + c] = v;
    });
  });
  return { data, shape: [rows.length, k], header, columns: header ? index.map((j) => header[j]) : null, ignored };
}

/** Read `.npy` or `.csv` rows (CSV columns by name when `featureNames` is given). */
function readTable(file, featureNames = null) {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    throw new AeBundleError('NOT_FOUND', `input file ${JSON.stringify(file)} does not exist.`);
  }
  const ext = path.extname(file).toLowerCase();
  if (ext === '.npy') return readNpy(file);
  if (ext === '.csv') return readCsv(file, featureNames);
  throw invalid(`${file}: unsupported input type ${JSON.stringify(ext)}; expected .npy or .csv.`);
}

module.exports = { readTable, readNpy, readCsv, selectColumns };
