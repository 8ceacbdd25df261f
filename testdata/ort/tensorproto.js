'use strict';
// Minimal onnx.TensorProto codec. Hand-written because it is the only protobuf
// message these tools need; we avoid pulling in protobufjs plus a copy of onnx.proto.
// Field numbers (onnx.proto3): dims=1, data_type=2, segment=3, float_data=4,
// int32_data=5, string_data=6, int64_data=7, name=8, raw_data=9, double_data=10,
// uint64_data=11, doc_string=12, external_data=13, data_location=14.
// Assumes a little-endian host (raw_data is little-endian by spec).

// ONNX TensorProto.DataType -> onnxruntime-common tensor type + element size.
const DTYPES = {
  1: ['float32', 4], 2: ['uint8', 1], 3: ['int8', 1], 4: ['uint16', 2], 5: ['int16', 2],
  6: ['int32', 4], 7: ['int64', 8], 8: ['string', 0], 9: ['bool', 1], 10: ['float16', 2],
  11: ['float64', 8], 12: ['uint32', 4], 13: ['uint64', 8],
};
const ORT_TO_ONNX = Object.fromEntries(Object.entries(DTYPES).map(([k, v]) => [v[0], Number(k)]));
const ARRAY_CTOR = {
  float32: Float32Array, uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array,
  int32: Int32Array, int64: BigInt64Array, bool: Uint8Array, float16: Uint16Array,
  float64: Float64Array, uint32: Uint32Array, uint64: BigUint64Array,
};

class Reader {
  constructor(buf) { this.buf = buf; this.pos = 0; }
  eof() { return this.pos >= this.buf.length; }
  varint() { // returns BigInt (unsigned 64-bit)
    let result = 0n, shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return BigInt.asUintN(64, result);
      shift += 7n;
      if (shift > 63n) throw new Error('varint too long');
    }
  }
  bytes() {
    const n = Number(this.varint());
    if (this.pos + n > this.buf.length) throw new Error('truncated length-delimited field');
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  skip(wire) {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

// Repeated scalar fields may be packed (wire 2) or not (one value per tag); accept both.
function readRepeated(r, wire, out, kind) {
  const one = (rr) => {
    if (kind === 'f32') { const v = rr.buf.readFloatLE(rr.pos); rr.pos += 4; return v; }
    if (kind === 'f64') { const v = rr.buf.readDoubleLE(rr.pos); rr.pos += 8; return v; }
    return rr.varint(); // BigInt, caller reinterprets sign
  };
  if (wire === 2) {
    const sub = new Reader(r.bytes());
    while (!sub.eof()) out.push(one(sub));
  } else {
    out.push(one(r));
  }
}

function decode(buf) {
  const r = new Reader(buf);
  const t = { dims: [], dataType: 0, name: '', raw: null, floatData: [], int32Data: [], stringData: [],
    int64Data: [], doubleData: [], uint64Data: [], external: false };
  while (!r.eof()) {
    const key = Number(r.varint());
    const field = key >>> 3, wire = key & 7;
    switch (field) {
      case 1: { const a = []; readRepeated(r, wire, a, 'v'); for (const v of a) t.dims.push(Number(BigInt.asIntN(64, v))); break; }
      case 2: t.dataType = Number(r.varint()); break;
      case 4: readRepeated(r, wire, t.floatData, 'f32'); break;
      case 5: readRepeated(r, wire, t.int32Data, 'v'); break;
      case 6: t.stringData.push(Buffer.from(r.bytes()).toString('utf8')); break;
      case 7: readRepeated(r, wire, t.int64Data, 'v'); break;
      case 8: t.name = Buffer.from(r.bytes()).toString('utf8'); break;
      case 9: t.raw = r.bytes(); break;
      case 10: readRepeated(r, wire, t.doubleData, 'f64'); break;
      case 11: readRepeated(r, wire, t.uint64Data, 'v'); break;
      case 14: t.external = Number(r.varint()) === 1; break;
      default: r.skip(wire);
    }
  }
  if (t.external) throw new Error(`tensor '${t.name}': external data is not supported here`);
  const info = DTYPES[t.dataType];
  if (!info) throw new Error(`tensor '${t.name}': unsupported data_type ${t.dataType}`);
  const [type, size] = info;
  const count = t.dims.reduce((a, b) => a * b, 1);
  let data;
  if (type === 'string') {
    data = t.stringData;
  } else if (t.raw) {
    if (t.raw.length !== count * size) throw new Error(`tensor '${t.name}': raw_data has ${t.raw.length} bytes, expected ${count * size}`);
    // Copy into a fresh, aligned ArrayBuffer (the subarray may be unaligned).
    const ab = new ArrayBuffer(count * size);
    new Uint8Array(ab).set(t.raw);
    data = new ARRAY_CTOR[type](ab);
  } else {
    const Ctor = ARRAY_CTOR[type];
    let src;
    if (type === 'float32') src = t.floatData;
    else if (type === 'float64') src = t.doubleData;
    else if (type === 'int64') src = t.int64Data.map((v) => BigInt.asIntN(64, v));
    else if (type === 'uint64') src = t.uint64Data;
    else if (type === 'uint32') src = t.uint64Data.map(Number);
    // int32_data holds int32/int16/int8/uint16/uint8/bool and float16 bit patterns.
    else src = t.int32Data.map((v) => Number(BigInt.asIntN(32, v)));
    if (src.length !== count) throw new Error(`tensor '${t.name}': ${src.length} values for ${count} elements`);
    data = Ctor.from(src);
  }
  return { name: t.name, type, dims: t.dims, data };
}

// ---- encoding ----
function varint(v) { // v: BigInt or number (non-negative or int64 two's complement)
  let x = BigInt.asUintN(64, BigInt(v));
  const out = [];
  while (x >= 0x80n) { out.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
  out.push(Number(x));
  return Buffer.from(out);
}
const tag = (field, wire) => varint((field << 3) | wire);
const lenField = (field, bytes) => Buffer.concat([tag(field, 2), varint(bytes.length), bytes]);

// Always writes raw_data (what onnx.numpy_helper.from_array does), strings in string_data.
function encode(name, type, dims, data) {
  const onnxType = ORT_TO_ONNX[type];
  if (!onnxType) throw new Error(`cannot encode tensor type ${type}`);
  const parts = [];
  if (dims.length) parts.push(lenField(1, Buffer.concat(dims.map((d) => varint(d)))));
  parts.push(tag(2, 0), varint(onnxType));
  if (type === 'string') {
    for (const s of data) parts.push(lenField(6, Buffer.from(s, 'utf8')));
  } else {
    const view = ArrayBuffer.isView(data) ? data : ARRAY_CTOR[type].from(data);
    parts.push(lenField(9, Buffer.from(view.buffer, view.byteOffset, view.byteLength)));
  }
  if (name) parts.push(lenField(8, Buffer.from(name, 'utf8')));
  return Buffer.concat(parts);
}

module.exports = { decode, encode, ARRAY_CTOR };
