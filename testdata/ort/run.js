#!/usr/bin/env node
'use strict';
// Reference runner: executes MODEL with onnxruntime (CPU) on inputs stored in the ONNX
// conformance-test layout (IN_DIR/input_K.pb) and writes OUT_DIR/output_K.pb, so the
// C++ tools can be compared against an independent runtime without any Python.
//   node run.js MODEL.onnx IN_DIR OUT_DIR [--threads N] [--opt basic|disabled|all]
const fs = require('fs');
const path = require('path');
const tp = require('./tensorproto');

function die(msg) { process.stderr.write(`run.js: error: ${msg}\n`); process.exit(1); }

function parseArgs(argv) {
  const pos = [];
  const opts = { threads: 0, opt: 'all' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--threads') opts.threads = Number(argv[++i]);
    else if (a === '--opt') opts.opt = argv[++i];
    else if (a === '-h' || a === '--help') { console.log('usage: node run.js MODEL.onnx IN_DIR OUT_DIR [--threads N] [--opt basic|disabled|all]'); process.exit(0); }
    else if (a.startsWith('--')) die(`unknown flag ${a}`);
    else pos.push(a);
  }
  if (pos.length !== 3) die('usage: node run.js MODEL.onnx IN_DIR OUT_DIR [--threads N] [--opt basic|disabled|all]');
  if (!['basic', 'disabled', 'all', 'extended'].includes(opts.opt)) die(`--opt must be basic|disabled|all, got ${opts.opt}`);
  if (!Number.isInteger(opts.threads) || opts.threads < 0) die('--threads must be a non-negative integer');
  return { model: pos[0], inDir: pos[1], outDir: pos[2], ...opts };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let ort;
  try { ort = require('onnxruntime-node'); } catch (e) {
    die(`cannot load onnxruntime-node (run: npm ci --onnxruntime-node-install=skip in ${__dirname}): ${e.message}`);
  }
  if (!fs.existsSync(args.model)) die(`model not found: ${args.model}`);
  if (!fs.existsSync(args.inDir)) die(`input dir not found: ${args.inDir}`);

  const sessOpts = { executionProviders: ['cpu'], graphOptimizationLevel: args.opt };
  if (args.threads) { sessOpts.intraOpNumThreads = args.threads; sessOpts.interOpNumThreads = 1; }
  let session;
  try { session = await ort.InferenceSession.create(args.model, sessOpts); } catch (e) {
    die(`failed to load model ${args.model}: ${e.message}`);
  }

  // Read input_0.pb, input_1.pb, ... in numeric order until one is missing.
  const files = [];
  for (let k = 0; fs.existsSync(path.join(args.inDir, `input_${k}.pb`)); k++) files.push(path.join(args.inDir, `input_${k}.pb`));
  const tensors = files.map((f) => {
    try { return tp.decode(fs.readFileSync(f)); } catch (e) { return die(`bad TensorProto ${f}: ${e.message}`); }
  });

  // Match by TensorProto name when it names a model input, otherwise by position.
  const feeds = {};
  tensors.forEach((t, k) => {
    const name = session.inputNames.includes(t.name) ? t.name : session.inputNames[k];
    if (name === undefined) die(`${files[k]}: model has only ${session.inputNames.length} inputs`);
    if (feeds[name]) die(`input '${name}' given twice`);
    feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
  });
  const missing = session.inputNames.filter((n) => !feeds[n]);
  if (missing.length) die(`missing inputs: ${missing.join(', ')} (found ${files.length} input_K.pb files in ${args.inDir})`);

  let results;
  try { results = await session.run(feeds); } catch (e) { die(`inference failed: ${e.message}`); }

  fs.mkdirSync(args.outDir, { recursive: true });
  session.outputNames.forEach((name, k) => {
    const t = results[name];
    const out = path.join(args.outDir, `output_${k}.pb`);
    fs.writeFileSync(out, tp.encode(name, t.type, t.dims, t.data));
    console.log(`${out}: ${name} ${t.type} [${t.dims.join(',')}]`);
  });
}

main().catch((e) => die(e.stack || String(e)));
