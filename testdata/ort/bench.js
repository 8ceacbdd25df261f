#!/usr/bin/env node
'use strict';
// Latency benchmark with onnxruntime (CPU), the baseline the compressed models are
// compared against. Inputs are seeded pseudo-random so runs are repeatable.
//   node bench.js MODEL.onnx --batch B --threads N --iters K [--shape-from IN_DIR]
//                 [--save-optimized OUT.onnx] [--opt basic|disabled|all]
// stdout: "median_ms=X min_ms=Y" (preceded by "session_ms=X" with --save-optimized).
const fs = require('fs');
const path = require('path');
const tp = require('./tensorproto');

function die(msg) { process.stderr.write(`bench.js: error: ${msg}\n`); process.exit(1); }
const USAGE = 'usage: node bench.js MODEL.onnx --batch B --threads N --iters K [--shape-from IN_DIR] [--save-optimized OUT.onnx] [--opt basic|disabled|all]';

function parseArgs(argv) {
  const o = { batch: 1, threads: 1, iters: 20, shapeFrom: null, saveOptimized: null, opt: 'all', warmup: 3 };
  const pos = [];
  const num = (v, flag) => { const n = Number(v); if (!Number.isInteger(n) || n < 1) die(`${flag} needs a positive integer`); return n; };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--batch') o.batch = num(argv[++i], a);
    else if (a === '--threads') o.threads = num(argv[++i], a);
    else if (a === '--iters') o.iters = num(argv[++i], a);
    else if (a === '--warmup') o.warmup = Number(argv[++i]);
    else if (a === '--shape-from') o.shapeFrom = argv[++i];
    else if (a === '--save-optimized') o.saveOptimized = argv[++i];
    else if (a === '--opt') o.opt = argv[++i];
    else if (a === '-h' || a === '--help') { console.log(USAGE); process.exit(0); }
    else if (a.startsWith('--')) die(`unknown flag ${a}\n${USAGE}`);
    else pos.push(a);
  }
  if (pos.length !== 1) die(USAGE);
  o.model = pos[0];
  // optimizedModelFilePath is only portable at 'basic': higher levels may insert
  // CPU-specific fused ops that other runtimes cannot load.
  if (o.saveOptimized) o.opt = 'basic';
  return o;
}

// mulberry32 + Box-Muller: tiny deterministic normal(0,1) generator (seed fixed).
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

async function main() {
  const a = parseArgs(process.argv.slice(2));
  let ort;
  try { ort = require('onnxruntime-node'); } catch (e) {
    die(`cannot load onnxruntime-node (run: npm ci --onnxruntime-node-install=skip in ${__dirname}): ${e.message}`);
  }
  if (!fs.existsSync(a.model)) die(`model not found: ${a.model}`);
  const sessOpts = { executionProviders: ['cpu'], graphOptimizationLevel: a.opt,
    intraOpNumThreads: a.threads, interOpNumThreads: 1 };
  if (a.saveOptimized) sessOpts.optimizedModelFilePath = path.resolve(a.saveOptimized);
  const t0 = process.hrtime.bigint();
  let session;
  try { session = await ort.InferenceSession.create(a.model, sessOpts); } catch (e) { die(`failed to load model ${a.model}: ${e.message}`); }
  const sessionMs = Number(process.hrtime.bigint() - t0) / 1e6;

  // Shapes: from --shape-from's input_K.pb files if given, else from the model's metadata.
  let shapeOf = {};
  if (a.shapeFrom) {
    for (let k = 0; fs.existsSync(path.join(a.shapeFrom, `input_${k}.pb`)); k++) {
      const t = tp.decode(fs.readFileSync(path.join(a.shapeFrom, `input_${k}.pb`)));
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
      if (i === 0) { // batch dim: --batch replaces a dynamic one and must equal a fixed one
        const m0 = (meta.shape || [])[0];
        if (typeof m0 === 'number' && m0 >= 0 && m0 !== a.batch) die(`input '${name}' has a fixed batch dim ${m0}; --batch ${a.batch} is not possible`);
        return a.batch;
      }
      if (typeof d === 'number' && d >= 0) return d;
      return die(`input '${name}' dim ${i} is dynamic (${d}); pass --shape-from IN_DIR`);
    });
    const n = shape.reduce((x, y) => x * y, 1);
    const Ctor = tp.ARRAY_CTOR[meta.type];
    if (!Ctor) die(`input '${name}' has unsupported type ${meta.type}`);
    const data = new Ctor(n); // non-float inputs (ids, masks) stay zero
    if (meta.type === 'float32' || meta.type === 'float64') for (let i = 0; i < n; i++) data[i] = rng();
    else if (meta.type === 'float16') for (let i = 0; i < n; i++) data[i] = float16Bits(rng());
    feeds[name] = new ort.Tensor(meta.type, data, shape);
  });

  try {
    for (let i = 0; i < a.warmup; i++) await session.run(feeds);
    const times = [];
    for (let i = 0; i < a.iters; i++) {
      const s = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    times.sort((x, y) => x - y);
    const mid = times.length >> 1;
    const median = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
    if (a.saveOptimized) console.log(`session_ms=${sessionMs.toFixed(3)}`);
    console.log(`median_ms=${median.toFixed(3)} min_ms=${times[0].toFixed(3)}`);
  } catch (e) { die(`inference failed: ${e.message}`); }
}

main().catch((e) => die(e.stack || String(e)));
