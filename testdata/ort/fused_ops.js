#!/usr/bin/env node
'use strict';
// What ONNX Runtime (CPU) makes of a model: creates a session at the given
// optimisation level, saves ORT's optimised graph and counts its ops, so one can
// see whether QDQ groups became integer kernels (QLinearConv, QLinearAdd, QGemm,
// ...) or stayed as DequantizeLinear -> float op -> QuantizeLinear.
//   node fused_ops.js MODEL.onnx [--opt all|extended|basic] [--save OUT.onnx]
// stdout, one line of JSON: {"QLinearConv": 20, "DequantizeLinear": 0, ...}
// ('all' output holds CPU-specific ops: for inspection only, not for other runtimes.)
const fs = require('fs');
const os = require('os');
const path = require('path');

function die(msg) { process.stderr.write(`fused_ops.js: error: ${msg}\n`); process.exit(1); }

// Minimal protobuf walk: ModelProto.graph (7) -> GraphProto.node (1) -> NodeProto.op_type (4).
function fields(buf, start, end, want, cb) {
  let p = start;
  const varint = () => { let r = 0, s = 1, b; do { b = buf[p++]; r += (b & 0x7f) * s; s *= 128; } while (b & 0x80); return r; };
  while (p < end) {
    const key = varint(), f = Math.floor(key / 8), wt = key & 7;
    if (wt === 0) varint();
    else if (wt === 1) p += 8;
    else if (wt === 5) p += 4;
    else if (wt === 2) { const n = varint(); if (f === want) cb(p, p + n); p += n; }
    else die(`unsupported protobuf wire type ${wt}`);
  }
}

function countOps(file) {
  const buf = fs.readFileSync(file);
  const counts = {};
  fields(buf, 0, buf.length, 7, (gs, ge) => fields(buf, gs, ge, 1, (ns, ne) => fields(buf, ns, ne, 4, (os_, oe) => {
    const op = buf.toString('utf8', os_, oe);
    counts[op] = (counts[op] || 0) + 1;
  })));
  return counts;
}

async function main() {
  const argv = process.argv.slice(2);
  let model = null, opt = 'all', save = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--opt') opt = argv[++i];
    else if (argv[i] === '--save') save = argv[++i];
    else if (argv[i].startsWith('--')) die(`unknown flag ${argv[i]}`);
    else model = argv[i];
  }
  if (!model) die('usage: node fused_ops.js MODEL.onnx [--opt all|extended|basic] [--save OUT.onnx]');
  if (!['all', 'extended', 'basic'].includes(opt)) die(`bad --opt ${opt}`);
  let ort;
  try { ort = require('onnxruntime-node'); } catch (e) { die(`cannot load onnxruntime-node: ${e.message}`); }
  const out = save ? path.resolve(save) : path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fused-')), 'opt.onnx');
  try {
    await ort.InferenceSession.create(model, { executionProviders: ['cpu'], graphOptimizationLevel: opt,
      optimizedModelFilePath: out, logSeverityLevel: 3 });
  } catch (e) { die(`failed to load ${model}: ${e.message}`); }
  console.log(JSON.stringify(countOps(out)));
  if (!save) fs.rmSync(path.dirname(out), { recursive: true, force: true });
}

main().catch((e) => die(e.stack || String(e)));
