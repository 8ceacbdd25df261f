#!/usr/bin/env node
'use strict';
// Accuracy of Fashion-MNIST models in onnxruntime (CPU) on the .npy test set, and
// how close each model's logits are to a reference (the float model):
//   node eval_fmnist.js --data DIR [--limit N] [--batch B] [--ref REF.onnx] MODEL.onnx...
// DIR holds test_images.npy [N,1,28,28] float32 and test_labels.npy [N] int64
// (testdata/fashion_mnist.py writes them). With --ref, the reference runs first.
// stdout: one JSON object per model:
//   {"model", "images", "top1", "sqnr_db", "cosine_mean", "cosine_min", "max_abs_diff", "agree"}
// sqnr_db = 10 log10(sum ref^2 / sum (ref - y)^2) over all logits of all images;
// cosine_* is the per-image cosine of the logit vectors; agree is the fraction of
// images whose argmax equals the reference's. Exit 1 on any error.
const fs = require('fs');
const path = require('path');

function die(msg) { process.stderr.write(`eval_fmnist.js: error: ${msg}\n`); process.exit(1); }
const USAGE = 'usage: node eval_fmnist.js --data DIR [--limit N] [--batch B] [--threads T] [--ref REF.onnx] MODEL.onnx...';

// Minimal .npy reader (version 1/2/3, C order, little-endian f4 / i8 / i4).
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.readUInt32BE(0) !== 0x934e554d || buf[4] !== 0x50 || buf[5] !== 0x59) die(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !shape) die(`${file}: cannot parse header ${header}`);
  if (/'fortran_order':\s*True/.test(header)) die(`${file}: Fortran order is not supported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const off = hstart + hlen;
  const n = dims.reduce((a, b) => a * b, 1);
  const bytes = buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + n * { '<f4': 4, '<i8': 8, '<i4': 4 }[descr[1]]);
  let data;
  if (descr[1] === '<f4') data = new Float32Array(bytes);
  else if (descr[1] === '<i8') data = Array.from(new BigInt64Array(bytes), Number);
  else if (descr[1] === '<i4') data = Array.from(new Int32Array(bytes));
  else die(`${file}: dtype ${descr[1]} is not supported`);
  return { dims, data };
}

function parseArgs(argv) {
  const o = { data: null, limit: 0, batch: 500, threads: 0, ref: null, models: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--data') o.data = argv[++i];
    else if (a === '--limit') o.limit = Number(argv[++i]);
    else if (a === '--batch') o.batch = Number(argv[++i]);
    else if (a === '--threads') o.threads = Number(argv[++i]);
    else if (a === '--ref') o.ref = argv[++i];
    else if (a === '-h' || a === '--help') { console.log(USAGE); process.exit(0); }
    else if (a.startsWith('--')) die(`unknown flag ${a}\n${USAGE}`);
    else o.models.push(a);
  }
  if (!o.data || (!o.models.length && !o.ref)) die(USAGE);
  for (const k of ['limit', 'batch', 'threads'])
    if (!Number.isInteger(o[k]) || o[k] < 0) die(`--${k} needs a non-negative integer`);
  if (o.batch < 1) die('--batch must be >= 1');
  return o;
}

async function logitsOf(ort, model, images, count, batch, threads) {
  if (!fs.existsSync(model)) die(`model not found: ${model}`);
  const opts = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' };
  if (threads) { opts.intraOpNumThreads = threads; opts.interOpNumThreads = 1; }
  let session;
  try { session = await ort.InferenceSession.create(model, opts); } catch (e) { die(`failed to load ${model}: ${e.message}`); }
  const [c, h, w] = images.dims.slice(1);
  const per = c * h * w;
  let out = null, classes = 0;
  for (let s = 0; s < count; s += batch) {
    const b = Math.min(batch, count - s);
    const x = new ort.Tensor('float32', images.data.subarray(s * per, (s + b) * per), [b, c, h, w]);
    let r;
    try { r = await session.run({ [session.inputNames[0]]: x }); } catch (e) { die(`${model}: inference failed: ${e.message}`); }
    const y = r[session.outputNames[0]];
    if (!out) { classes = y.dims[1]; out = new Float32Array(count * classes); }
    out.set(y.data, s * classes);
  }
  return { logits: out, classes };
}

function argmax(a, off, n) {
  let k = 0;
  for (let j = 1; j < n; j++) if (a[off + j] > a[off + k]) k = j;
  return k;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  let ort;
  try { ort = require('onnxruntime-node'); } catch (e) { die(`cannot load onnxruntime-node: ${e.message}`); }
  const images = readNpy(path.join(a.data, 'test_images.npy'));
  const labels = readNpy(path.join(a.data, 'test_labels.npy'));
  if (images.dims.length !== 4) die(`test_images.npy must be [N,C,H,W], is [${images.dims}]`);
  if (labels.data.length !== images.dims[0]) die('test_labels.npy and test_images.npy disagree on N');
  const count = a.limit ? Math.min(a.limit, images.dims[0]) : images.dims[0];

  const ref = a.ref ? await logitsOf(ort, a.ref, images, count, a.batch, a.threads) : null;
  const models = a.ref ? [a.ref, ...a.models] : a.models;
  for (const m of models) {
    const { logits, classes } = m === a.ref ? ref : await logitsOf(ort, m, images, count, a.batch, a.threads);
    let correct = 0, agree = 0, sig = 0, noise = 0, cosSum = 0, cosMin = 1, maxAbs = 0;
    for (let i = 0; i < count; i++) {
      const off = i * classes;
      const k = argmax(logits, off, classes);
      if (k === labels.data[i]) correct++;
      if (ref) {
        if (k === argmax(ref.logits, off, classes)) agree++;
        let dot = 0, nr = 0, ny = 0;
        for (let j = 0; j < classes; j++) {
          const r = ref.logits[off + j], y = logits[off + j];
          dot += r * y; nr += r * r; ny += y * y;
          sig += r * r; noise += (r - y) * (r - y);
          maxAbs = Math.max(maxAbs, Math.abs(r - y));
        }
        const cos = nr > 0 && ny > 0 ? dot / Math.sqrt(nr * ny) : (nr === ny ? 1 : 0);
        cosSum += cos; cosMin = Math.min(cosMin, cos);
      }
    }
    const rec = { model: m, images: count, top1: correct / count };
    if (ref) {
      rec.sqnr_db = noise > 0 ? 10 * Math.log10(sig / noise) : Infinity;
      rec.cosine_mean = cosSum / count;
      rec.cosine_min = cosMin;
      rec.max_abs_diff = maxAbs;
      rec.agree = agree / count;
    }
    console.log(JSON.stringify(rec));
  }
}

main().catch((e) => die(e.stack || String(e)));
