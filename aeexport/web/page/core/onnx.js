/**
 * Minimal readers for the two ONNX messages a bundle consumer needs:
 *
 * - ModelProto: producer, opsets, `metadata_props` (field 14) and the raw bytes
 *   of the GraphProto (field 7), whose sha256 is the bundle's `graph_sha256`.
 *   onnxruntime-web, like onnxruntime-node, exposes input/output names and types but not the
 *   model's custom metadata, hence this reader.
 * - TensorProto: the golden vectors (`input_i.pb`, `output_i.pb`).
 *
 * Field numbers are those of onnx/onnx.proto (stable since ONNX 1.0).
 */

import { ProtobufError, WIRE, fields, packedVarints, packedVarintsBig, str } from './protobuf.js';

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** ONNX TensorProto.DataType -> [onnxruntime tensor type name, bytes per element, typed array]. */
export const DTYPES = {
  1: ['float32', 4, Float32Array],
  2: ['uint8', 1, Uint8Array],
  3: ['int8', 1, Int8Array],
  6: ['int32', 4, Int32Array],
  7: ['int64', 8, BigInt64Array],
  9: ['bool', 1, Uint8Array],
  10: ['float16', 2, Uint16Array],
  11: ['float64', 8, Float64Array],
};

/**
 * Parse an ONNX model file.
 * @param {Uint8Array} bytes serialized ModelProto
 * @returns {{irVersion: number, producerName: string, producerVersion: string, docString: string,
 *   opsets: {domain: string, version: number}[], metadata: Object<string, string>, graphBytes: Uint8Array}}
 */
export function readModel(bytes) {
  const model = { irVersion: 0, producerName: '', producerVersion: '', docString: '', opsets: [], metadata: {}, graphBytes: null };
  for (const f of fields(bytes)) {
    switch (f.field) {
      case 1: model.irVersion = f.value; break;
      case 2: model.producerName = str(f.value); break;
      case 3: model.producerVersion = str(f.value); break;
      case 6: model.docString = str(f.value); break;
      case 7:
        if (model.graphBytes !== null) throw new ProtobufError('the model holds more than one graph field');
        model.graphBytes = f.value;
        break;
      case 8: {
        const op = { domain: '', version: 0 };
        for (const g of fields(f.value)) {
          if (g.field === 1) op.domain = str(g.value);
          else if (g.field === 2) op.version = g.value;
        }
        model.opsets.push(op);
        break;
      }
      case 14: {
        let key = '';
        let value = '';
        for (const g of fields(f.value)) {
          if (g.field === 1) key = str(g.value);
          else if (g.field === 2) value = str(g.value);
        }
        model.metadata[key] = value;
        break;
      }
      default: break; // domain, model_version, training_info, functions, ...: not needed
    }
  }
  if (model.graphBytes === null) throw new ProtobufError('the model has no graph (ModelProto field 7)');
  return model;
}

function copyBytes(bytes) {
  const ab = new ArrayBuffer(bytes.length);
  new Uint8Array(ab).set(bytes);
  return ab;
}

function repeatedFixed(f, size, read) {
  // a repeated float/double field: packed (one BYTES field) or one fixed field per value
  const bytes = f.value;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  for (let i = 0; i + size <= bytes.length; i += size) out.push(read(view, i));
  return out;
}

/**
 * Parse a serialized TensorProto (a golden vector file).
 * @param {Uint8Array} bytes
 * @returns {{name: string, dims: number[], dataType: number, type: string, data: ArrayLike<number|bigint>}}
 *   `type` is the onnxruntime tensor type; `data` a typed array of the right kind.
 */
export function readTensor(bytes) {
  let name = '';
  let dataType = 0;
  const dims = [];
  let raw = null;
  const floats = [];
  const doubles = [];
  const int32s = [];
  const int64s = [];
  for (const f of fields(bytes)) {
    switch (f.field) {
      case 1:
        if (f.wire === WIRE.BYTES) dims.push(...packedVarintsBig(f.value).map(Number));
        else dims.push(Number(BigInt.asIntN(64, BigInt(f.value))));
        break;
      case 2: dataType = f.value; break;
      case 3: throw new ProtobufError('segmented tensors are not supported');
      case 4: floats.push(...repeatedFixed(f, 4, (v, i) => v.getFloat32(i, true))); break;
      case 5:
        if (f.wire === WIRE.BYTES) int32s.push(...packedVarints(f.value));
        else int32s.push(f.value);
        break;
      case 7:
        if (f.wire === WIRE.BYTES) int64s.push(...packedVarintsBig(f.value));
        else int64s.push(BigInt.asIntN(64, BigInt(f.value)));
        break;
      case 8: name = str(f.value); break;
      case 9: raw = f.value; break;
      case 10: doubles.push(...repeatedFixed(f, 8, (v, i) => v.getFloat64(i, true))); break;
      case 13: throw new ProtobufError('tensors with external data are not supported');
      case 14: if (f.value === 1) throw new ProtobufError('tensors with external data are not supported'); break;
      default: break;
    }
  }
  const spec = DTYPES[dataType];
  if (!spec) throw new ProtobufError(`unsupported tensor data_type ${dataType}`);
  const [type, size, Typed] = spec;
  const count = dims.reduce((a, b) => a * b, 1);
  let data;
  if (raw !== null) {
    if (raw.length !== count * size) {
      throw new ProtobufError(`raw_data holds ${raw.length} bytes, but dims ${JSON.stringify(dims)} of ${type} need ${count * size}`);
    }
    if (!LITTLE_ENDIAN) throw new ProtobufError('big-endian hosts are not supported');
    data = new Typed(copyBytes(raw));
  } else {
    const src = { 1: floats, 11: doubles, 7: int64s }[dataType] ?? int32s;
    if (src.length !== count) {
      throw new ProtobufError(`tensor holds ${src.length} values, but dims ${JSON.stringify(dims)} need ${count}`);
    }
    data = Typed.from(src);
  }
  return { name, dims, dataType, type, data };
}

/**
 * The initializer `name` of a GraphProto (its bytes: readModel(...).graphBytes), parsed by readTensor, or null.
 * Only the name field of the other initializers is read.
 */
export function readInitializer(graphBytes, name) {
  for (const f of fields(graphBytes)) {
    if (f.field !== 5 || f.wire !== WIRE.BYTES) continue; // GraphProto.initializer
    for (const t of fields(f.value)) {
      if (t.field === 8 && str(t.value) === name) return readTensor(f.value);
    }
  }
  return null;
}

/** Convert IEEE half-precision bits to a Number. */
function halfToNumber(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Tensor values as plain Numbers (float16 bits decoded, int64 converted). */
export function toNumbers(type, data) {
  if (type === 'float16' && data instanceof Uint16Array) return Array.from(data, halfToNumber);
  return Array.from(data, Number);
}

