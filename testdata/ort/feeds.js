'use strict';
// Benchmark inputs shared by bench.js and bench_compare.js: seeded random
// feeds shaped like a model's inputs (or like the input_K.pb files of an ONNX
// test folder), with the batch dimension set; plus the median of timings.
const fs = require('fs');
const path = require('path');
const tp = require('./tensorproto');

// mulberry32 + Box-Muller: tiny deterministic normal(0,1) generator.
function makeRng(seed) {
  let s = seed >>> 0;
  const u = () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296; };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

function float16Bits(f) { // round-to-nearest is not needed for random benchmark data
  const b = new Float32Array([f]); const i = new Uint32Array(b.buffer)[0];
  const sign = (i >>> 16) & 0x8000; const e = ((i >>> 23) & 0xff) - 127 + 15; const m = (i >>> 13) & 0x3ff;
  if (e <= 0) return sign; if (e >= 31) return sign | 0x7c00; return sign | (e << 10) | m;
}

// One ort.Tensor per input of `session`: float inputs normal(0,1) (seed 0),
// others (ids, masks) zero. Shapes come from `shapeFrom`'s input_K.pb files
// if given, else from the model; the batch dimension becomes `batch`. `die`
// reports what is impossible (a fixed batch of another size, a dynamic dim
// without --shape-from, an unsupported type).
function randomFeeds(ort, session, batch, shapeFrom, die) {
  const shapeOf = {};
  if (shapeFrom) {
    for (let k = 0; fs.existsSync(path.join(shapeFrom, `input_${k}.pb`)); k++) {
      const t = tp.decode(fs.readFileSync(path.join(shapeFrom, `input_${k}.pb`)));
      const name = session.inputNames.includes(t.name) ? t.name : session.inputNames[k];
      shapeOf[name] = t.dims.slice();
    }
  }
  const rng = makeRng(0);
  const feeds = {};
  session.inputMetadata.forEach((meta, idx) => {
    const name = meta.name || session.inputNames[idx];
    if (!meta.isTensor) die(`input '${name}' is not a tensor`);
    // A rank-0 input (e.g. a Loop trip count) stays a scalar: there is no batch dim to set.
    let shape = shapeOf[name] ? shapeOf[name].slice() : (meta.shape || []).slice();
    shape = shape.map((d, i) => {
      if (i === 0) { // batch dim: `batch` replaces a dynamic one and must equal a fixed one
        const m0 = (meta.shape || [])[0];
        if (typeof m0 === 'number' && m0 >= 0 && m0 !== batch) die(`input '${name}' has a fixed batch dim ${m0}; --batch ${batch} is not possible`);
        return batch;
      }
      if (typeof d === 'number' && d >= 0) return d;
      return die(`input '${name}' dim ${i} is dynamic (${d}); pass --shape-from IN_DIR`);
    });
    const n = shape.reduce((x, y) => x * y, 1);
    const Ctor = tp.ARRAY_CTOR[meta.type];
    if (!Ctor) die(`input '${name}' has unsupported type ${meta.type}`);
    const data = new Ctor(n);
    if (meta.type === 'float32' || meta.type === 'float64') for (let i = 0; i < n; i++) data[i] = rng();
    else if (meta.type === 'float16') for (let i = 0; i < n; i++) data[i] = float16Bits(rng());
    feeds[name] = new ort.Tensor(meta.type, data, shape);
  });
  return feeds;
}

function median(v) {
  const s = v.slice().sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

module.exports = { randomFeeds, median };
