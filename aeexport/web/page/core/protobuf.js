/**
 * A tiny, dependency-free protobuf wire-format reader: just enough to walk the
 * fields of an ONNX ModelProto and TensorProto. It never evaluates anything; a
 * malformed message throws a ProtobufError.
 */

export class ProtobufError extends Error {}

/** Wire types of the protobuf encoding. */
export const WIRE = { VARINT: 0, FIXED64: 1, BYTES: 2, FIXED32: 5 };

/**
 * Iterate over the top-level fields of one message.
 * @param {Uint8Array} buf the serialized message
 * @yields {{field: number, wire: number, value: number|bigint|Uint8Array, start: number, end: number}}
 *   `value` is a Number for varints (exact below 2^53), the raw bytes for
 *   length-delimited fields and for fixed32/fixed64 fields.
 */
export function* fields(buf) {
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    let key;
    [key, pos] = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field === 0) throw new ProtobufError(`invalid field number 0 at byte ${start}`);
    let value;
    if (wire === WIRE.VARINT) {
      [value, pos] = readVarint(buf, pos);
    } else if (wire === WIRE.BYTES) {
      let len;
      [len, pos] = readVarint(buf, pos);
      if (pos + len > buf.length) throw new ProtobufError(`field ${field} runs past the end of the message`);
      value = buf.subarray(pos, pos + len);
      pos += len;
    } else if (wire === WIRE.FIXED64 || wire === WIRE.FIXED32) {
      const n = wire === WIRE.FIXED64 ? 8 : 4;
      if (pos + n > buf.length) throw new ProtobufError(`field ${field} runs past the end of the message`);
      value = buf.subarray(pos, pos + n);
      pos += n;
    } else {
      throw new ProtobufError(`unsupported wire type ${wire} (field ${field}) at byte ${start}`);
    }
    yield { field, wire, value, start, end: pos };
  }
}

/** Read a base-128 varint at `pos`; returns [Number, nextPos]. Exact up to 2^53. */
export function readVarint(buf, pos) {
  let result = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new ProtobufError('truncated varint');
    const b = buf[pos++];
    result += (b & 0x7f) * mul;
    if (b < 0x80) return [result, pos];
    mul *= 128;
  }
  throw new ProtobufError('varint longer than 10 bytes');
}

/** Read a varint as a signed 64-bit BigInt (two's complement, as int64 fields are). */
export function readVarintBig(buf, pos) {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new ProtobufError('truncated varint');
    const b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return [BigInt.asIntN(64, result), pos];
    shift += 7n;
  }
  throw new ProtobufError('varint longer than 10 bytes');
}

/** All varints of a packed repeated field, as Numbers. */
export function packedVarints(bytes) {
  const out = [];
  let pos = 0;
  while (pos < bytes.length) {
    let v;
    [v, pos] = readVarint(bytes, pos);
    out.push(v);
  }
  return out;
}

/** All varints of a packed repeated field, as signed BigInts. */
export function packedVarintsBig(bytes) {
  const out = [];
  let pos = 0;
  while (pos < bytes.length) {
    let v;
    [v, pos] = readVarintBig(bytes, pos);
    out.push(v);
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode a length-delimited field as a UTF-8 string. */
export function str(bytes) {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ProtobufError('a string field is not valid UTF-8');
  }
}

