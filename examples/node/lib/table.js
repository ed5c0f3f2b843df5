'use strict';
/**
 * Reading input rows: `.npy` (float32/float64, C order, never pickled objects)
 * and `.csv` (optional header line, numeric columns), the same rules as
 * aeruntime's `read_table`.
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
 * Read a numeric `.csv` file: an optional header line, then one row per line.
 * @returns {{data: Float64Array, shape: number[], header: string[]|null}}
 */
function readCsv(file) {
  const text = fs.readFileSync(file, 'utf8');
  let rows = text.split(/\r?\n/).map((l) => l.split(',')).filter((r) => r.some((c) => c.trim() !== ''));
  if (rows.length === 0) throw invalid(`${file}: the CSV file is empty; expected a header and numeric rows.`);
  let header = null;
  if (!rows[0].every((c) => parseNumber(c) !== null)) {
    header = rows[0].map((c) => c.trim());
    rows = rows.slice(1);
  }
  const width = header ? header.length : rows[0].length;
  const data = new Float64Array(rows.length * width);
  rows.forEach((r, i) => {
    const line = i + 1 + (header ? 1 : 0);
    if (r.length !== width) {
      throw invalid(`${file}: line ${line} has ${r.length} fields, but the ${header ? 'header' : 'first line'} has ${width}. Fix the malformed line.`);
    }
    r.forEach((c, j) => {
      const v = parseNumber(c);
      if (v === null) {
        throw invalid(`${file}: line ${line}, column ${j + 1}: expected a number, got ${JSON.stringify(c)}. Drop or encode non-numeric columns first.`);
      }
      data[i * width + j] = v;
    });
  });
  return { data, shape: [rows.length, width], header };
}

/** Read `.npy` or `.csv` rows. */
function readTable(file) {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    throw new AeBundleError('NOT_FOUND', `input file ${JSON.stringify(file)} does not exist.`);
  }
  const ext = path.extname(file).toLowerCase();
  if (ext === '.npy') return readNpy(file);
  if (ext === '.csv') return readCsv(file);
  throw invalid(`${file}: unsupported input type ${JSON.stringify(ext)}; expected .npy or .csv.`);
}

module.exports = { readTable, readNpy, readCsv };
