#!/usr/bin/env node
'use strict';
// Side-by-side latency of two models (e.g. float vs QDQ int8) in one process with
// onnxruntime (CPU): both sessions are created up front, then timed in interleaved
// rounds (A then B, B then A, ...) on the same seeded random input, so machine load
// hits both alike.
//   node bench_compare.js A.onnx B.onnx [--batch B] [--threads N] [--iters K] [--rounds R]
//                         [--shape-from IN_DIR] [--opt all|basic|extended|disabled]
// stdout, one line: "a_median_ms=X b_median_ms=Y speedup=A/B a_min_ms=.. b_min_ms=.. loadavg=L1,L5 "
// (medians over rounds x iters timed runs; speedup = a_median / b_median).
const fs = require('fs');
const os = require('os');
const { randomFeeds, median } = require('./feeds');

function die(msg) { process.stderr.write(`bench_compare.js: error: ${msg}\n`); process.exit(1); }
const USAGE = 'usage: node bench_compare.js A.onnx B.onnx [--batch B] [--threads N] [--iters K] [--rounds R] [--shape-from IN_DIR] [--opt all|basic|extended|disabled]';

function parseArgs(argv) {
  const o = { batch: 1, threads: 1, iters: 10, rounds: 5, warmup: 3, shapeFrom: null, opt: 'all', models: [] };
  const num = (v, flag) => { const n = Number(v); if (!Number.isInteger(n) || n < 1) die(`${flag} needs a positive integer`); return n; };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--batch') o.batch = num(argv[++i], a);
    else if (a === '--threads') o.threads = num(argv[++i], a);
    else if (a === '--iters') o.iters = num(argv[++i], a);
    else if (a === '--rounds') o.rounds = num(argv[++i], a);
    else if (a === '--warmup') o.warmup = num(argv[++i], a);
    else if (a === '--shape-from') o.shapeFrom = argv[++i];
    else if (a === '--opt') o.opt = argv[++i];
    else if (a === '-h' || a === '--help') { console.log(USAGE); process.exit(0); }
    else if (a.startsWith('--')) die(`unknown flag ${a}\n${USAGE}`);
    else o.models.push(a);
  }
  if (o.models.length !== 2) die(USAGE);
  if (!['all', 'basic', 'extended', 'disabled'].includes(o.opt)) die(`bad --opt ${o.opt}`);
  return o;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  let ort;
  try { ort = require('onnxruntime-node'); } catch (e) { die(`cannot load onnxruntime-node: ${e.message}`); }
  const opts = { executionProviders: ['cpu'], graphOptimizationLevel: a.opt, intraOpNumThreads: a.threads, interOpNumThreads: 1 };
  const sessions = [];
  for (const m of a.models) {
    if (!fs.existsSync(m)) die(`model not found: ${m}`);
    try { sessions.push(await ort.InferenceSession.create(m, opts)); } catch (e) { die(`failed to load ${m}: ${e.message}`); }
  }
  // One feed per input name, shared by both models (they must have the same inputs).
  const feeds = randomFeeds(ort, sessions[0], a.batch, a.shapeFrom, die);
  for (const s of sessions) {
    for (const n of s.inputNames) if (!feeds[n]) die(`the models' inputs differ ('${n}')`);
    try { for (let i = 0; i < a.warmup; i++) await s.run(feeds); } catch (e) { die(`inference failed: ${e.message}`); }
  }
  const times = [[], []];
  for (let r = 0; r < a.rounds; r++) {
    const order = r % 2 ? [1, 0] : [0, 1];
    for (const k of order) {
      for (let i = 0; i < a.iters; i++) {
        const t0 = process.hrtime.bigint();
        await sessions[k].run(feeds);
        times[k].push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
  }
  const ma = median(times[0]), mb = median(times[1]);
  const load = os.loadavg().map((x) => x.toFixed(2)).slice(0, 2).join(',');
  console.log(`a_median_ms=${ma.toFixed(3)} b_median_ms=${mb.toFixed(3)} speedup=${(ma / mb).toFixed(2)} ` +
              `a_min_ms=${Math.min(...times[0]).toFixed(3)} b_min_ms=${Math.min(...times[1]).toFixed(3)} loadavg=${load}`);
}

main().catch((e) => die(e.stack || String(e)));
