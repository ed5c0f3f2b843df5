/**
 * The structure check of a graph, before onnxruntime sees it: aeruntime's
 * `aeruntime.format.onnxscan.scan_structure` + `aeruntime.format.ops.check_structure`, in
 * JavaScript. From the protobuf bytes alone it refuses (AeBundleError UNSAFE):
 *
 * - a node whose (domain, op_type) is not in ALLOWED_OPS (./ops.js): no Loop, Scan or If
 *   (a Loop of 2**62 iterations would hang the consumer), no custom or unknown domain;
 * - an attribute holding a graph (subgraphs), model-local functions, training_info,
 *   sparse initializers, opset imports of other domains;
 * - a tensor whose data lives in another file (external data: onnxruntime-node would open it);
 * - declared dimensions outside 0..MAX_DIM, more than MAX_TENSOR_RANK of them, or more than
 *   MAX_ROW_ELEMENTS elements per row; tensors declaring more elements than their bytes hold.
 *
 * A file that is not an ONNX protobuf (an ORT-format flatbuffer among them) cannot be
 * checked, so it is refused (INTEGRITY), never run.
 */

import { AeBundleError } from './errors.js';
import { ALLOWED_DOMAINS, ALLOWED_OPS, MAX_DIM, MAX_ROW_ELEMENTS, MAX_TENSOR_RANK } from './ops.js';
import { WIRE, fields, packedVarintsBig, readVarint, readVarintBig, str } from './protobuf.js';

const FIX = 'Re-export the bundle with aeexport; this consumer runs only graphs made of the operators aeexport emits.';
const GRAPH_ATTR_TYPES = [5, 10]; // AttributeProto.GRAPH, GRAPHS
const TENSOR_DATA = [4, 5, 6, 7, 9, 10, 11]; // float/int32/string/int64/raw/double/uint64 data
const EXTERNAL = 1; // TensorProto.DataLocation.EXTERNAL

const unsafe = (msg) => new AeBundleError('UNSAFE', msg);
/** A varint field's value as a signed 64-bit BigInt, re-read from its bytes (a Number loses -1's sign). */
const int64At = (buf, f) => readVarintBig(buf, readVarint(buf, f.start)[1])[0];
const int64s = (buf, f) => (f.wire === WIRE.VARINT ? [int64At(buf, f)] : packedVarintsBig(f.value));

/** TensorProto: (name, dims as BigInt, bytes of data, stored elsewhere). */
function tensorSize(bytes) {
  const t = { name: '', dims: [], stored: 0, external: false };
  for (const f of fields(bytes)) {
    if (f.field === 1 && (f.wire === WIRE.VARINT || f.wire === WIRE.BYTES)) t.dims.push(...int64s(bytes, f));
    else if (f.field === 8 && f.wire === WIRE.BYTES) t.name = str(f.value);
    else if (TENSOR_DATA.includes(f.field)) t.stored += f.wire === WIRE.BYTES ? f.value.length : 8;
    else if (f.field === 13) t.external = true;
    else if (f.field === 14 && f.wire === WIRE.VARINT && f.value === EXTERNAL) t.external = true;
  }
  return t;
}

function readNode(bytes, out) {
  const node = { name: '', op: '', domain: '', subgraph: false };
  for (const f of fields(bytes)) {
    if (f.wire !== WIRE.BYTES) continue;
    if (f.field === 3) node.name = str(f.value);
    else if (f.field === 4) node.op = str(f.value);
    else if (f.field === 7) node.domain = str(f.value);
    else if (f.field === 5) {
      for (const a of fields(f.value)) {
        if (((a.field === 6 || a.field === 11) && a.wire === WIRE.BYTES)
            || (a.field === 20 && a.wire === WIRE.VARINT && GRAPH_ATTR_TYPES.includes(a.value))) node.subgraph = true;
        else if ((a.field === 5 || a.field === 10) && a.wire === WIRE.BYTES) out.tensors.push(tensorSize(a.value));
      }
    }
  }
  out.nodes.push(node);
}

const sub = (bytes, number) => [...fields(bytes)].filter((f) => f.field === number && f.wire === WIRE.BYTES).map((f) => f.value);

/** ValueInfoProto: (name, dims; null for a symbolic one). */
function valueInfo(bytes) {
  const name = sub(bytes, 1).map(str)[0] || '';
  const dims = [];
  for (const typ of sub(bytes, 2)) {
    for (const tensor of sub(typ, 1)) {
      for (const shape of sub(tensor, 2)) {
        for (const dim of sub(shape, 1)) {
          let value = null;
          for (const f of fields(dim)) if (f.field === 1 && f.wire === WIRE.VARINT) value = int64At(dim, f);
          dims.push(value);
        }
      }
    }
  }
  return { name, dims };
}

/**
 * Nodes, opsets, declared shapes, tensor sizes and functions of a ModelProto.
 * @param {Uint8Array} bytes the .onnx file
 */
export function scanStructure(bytes) {
  const out = { nodes: [], opsets: [], values: [], tensors: [], functions: 0, training: 0, sparse: 0 };
  let graph = null;
  for (const f of fields(bytes)) {
    if (f.wire !== WIRE.BYTES) continue;
    if (f.field === 7) graph = f.value;
    else if (f.field === 8) {
      const op = { domain: '', version: 0 };
      for (const g of fields(f.value)) {
        if (g.field === 1 && g.wire === WIRE.BYTES) op.domain = str(g.value);
        else if (g.field === 2 && g.wire === WIRE.VARINT) op.version = g.value;
      }
      out.opsets.push(op);
    } else if (f.field === 20) out.training += 1;
    else if (f.field === 25) out.functions += 1;
  }
  for (const f of fields(graph || new Uint8Array())) {
    if (f.wire !== WIRE.BYTES) continue;
    if (f.field === 1) readNode(f.value, out);
    else if (f.field === 5) out.tensors.push(tensorSize(f.value));
    else if (f.field === 11 || f.field === 12 || f.field === 13) out.values.push(valueInfo(f.value));
    else if (f.field === 15) out.sparse += 1;
  }
  return out;
}

/** onnxruntime's ORT format: a flatbuffer with the file identifier ORTM at bytes 4..8 (how onnxruntime tells it). */
export const isOrtFormat = (bytes) => bytes.length >= 8 && String.fromCharCode(...bytes.subarray(4, 8)) === 'ORTM';

const domainOf = (d) => (d === 'ai.onnx' ? '' : d);

function nodeProblem(node) {
  const allowed = ALLOWED_OPS[domainOf(node.domain)];
  if (node.subgraph) return 'holds a subgraph (Loop/Scan/If bodies are never written by aeexport)';
  if (allowed === undefined) return `is in domain ${JSON.stringify(node.domain)}, which is not a domain aeexport uses (allowed: ${JSON.stringify(Object.keys(ALLOWED_OPS))})`;
  if (!allowed.includes(node.op)) return `is an operator aeexport does not emit (allowed: ${allowed.length} op types)`;
  return '';
}

function checkModel(rel, s) {
  for (const [count, what] of [[s.functions, 'model-local functions'], [s.training, 'training_info entries'], [s.sparse, 'sparse initializers']]) {
    if (count) throw unsafe(`${rel} holds ${count} ${what}, which aeexport never writes. ${FIX}`);
  }
  for (const { domain, version } of s.opsets) {
    if (!ALLOWED_DOMAINS.includes(domain)) {
      throw unsafe(`${rel} imports opset domain ${JSON.stringify(domain)} (version ${version}); aeexport graphs import only the default ai.onnx domain. ${FIX}`);
    }
  }
}

const bigMax = BigInt(MAX_DIM);
const outOfRange = (d) => d < 0n || d > bigMax;

function checkShapes(rel, s) {
  for (const { name, dims } of s.values) {
    const fixed = dims.filter((d) => d !== null);
    const elements = fixed.reduce((a, b) => a * b, 1n);
    if (fixed.some(outOfRange) || dims.length > MAX_TENSOR_RANK || elements > BigInt(MAX_ROW_ELEMENTS)) {
      throw unsafe(`${rel} declares value ${JSON.stringify(name)} of shape [${dims.slice(0, MAX_TENSOR_RANK).join(', ')}]: expected at most ${MAX_TENSOR_RANK} dimensions of 0..${MAX_DIM} and ${MAX_ROW_ELEMENTS} elements per row. ${FIX}`);
    }
  }
}

function checkTensors(rel, s) {
  for (const { name, dims, stored, external } of s.tensors) {
    const shown = `[${dims.slice(0, MAX_TENSOR_RANK).join(', ')}]`;
    if (external) {
      throw unsafe(`${rel}: tensor ${JSON.stringify(name)} keeps its data in another file (external data); aeexport writes single-file graphs, and no file outside the bundle is ever opened. ${FIX}`);
    }
    if (dims.length > MAX_TENSOR_RANK || dims.some(outOfRange)) {
      throw unsafe(`${rel}: tensor ${JSON.stringify(name)} has dims ${shown}: expected at most ${MAX_TENSOR_RANK} dimensions of 0..${MAX_DIM}. ${FIX}`);
    }
    const n = dims.reduce((a, b) => a * b, 1n);
    if (n > BigInt(Math.max(1, 2 * stored))) { // int4 packs two elements per byte: no tensor holds more
      throw unsafe(`${rel}: tensor ${JSON.stringify(name)} declares dims ${shown} (${n} elements) but holds ${stored} bytes of data: onnxruntime would allocate memory the file does not contain. ${FIX}`);
    }
  }
}

/**
 * Refuse a graph that is not made of what aeexport writes (see the top of this file).
 * @param {string} rel the graph's path in the bundle, named in messages
 * @param {Uint8Array} bytes the .onnx file
 * @throws {AeBundleError} UNSAFE
 */
export function checkStructure(rel, bytes) {
  if (isOrtFormat(bytes)) {
    throw new AeBundleError('INTEGRITY', `${rel} is an ORT-format model (a flatbuffer), which this consumer cannot check (operators, structure); it runs ONNX graphs only. Use the bundle's .onnx graphs, or re-export.`);
  }
  const s = scanStructure(bytes);
  checkModel(rel, s);
  for (const node of s.nodes) {
    const why = nodeProblem(node);
    if (why) {
      throw unsafe(`${rel}: node ${JSON.stringify(node.name)} (op ${JSON.stringify(node.op)}, domain ${JSON.stringify(node.domain)}) ${why}; refusing it before onnxruntime sees the graph. ${FIX}`);
    }
  }
  checkShapes(rel, s);
  checkTensors(rel, s);
}
