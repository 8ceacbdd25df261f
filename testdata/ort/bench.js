#!/usr/bin/env node
'use strict';
// Latency benchmark with onnxruntime (CPU), the baseline the compressed models are
// compared against. Inputs are seeded pseudo-random so runs are repeatable.
//   node bench.js MODEL.onnx --batch B --threads N --iters K [--shape-from IN_DIR]
//                 [--save-optimized OUT.onnx] [--opt basic|disabled|all]
// stdout: "median_ms=X min_ms=Y" (preceded by "session_ms=X" with --save-optimized).
const fs = require('fs');
const path = require('path');
const { randomFeeds, median } = require('./feeds');

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

  const feeds = randomFeeds(ort, session, a.batch, a.shapeFrom, die);

  try {
    for (let i = 0; i < a.warmup; i++) await session.run(feeds);
    const times = [];
    for (let i = 0; i < a.iters; i++) {
      const s = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    if (a.saveOptimized) console.log(`session_ms=${sessionMs.toFixed(3)}`);
    console.log(`median_ms=${median(times).toFixed(3)} min_ms=${Math.min(...times).toFixed(3)}`);
  } catch (e) { die(`inference failed: ${e.message}`); }
}

main().catch((e) => die(e.stack || String(e)));
