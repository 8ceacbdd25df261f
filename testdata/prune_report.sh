#!/usr/bin/env bash
# The channel-pruning tables of the README: for each model and pipeline, the
# multiply-adds kept, file size, accuracy in ONNX Runtime (top-1 on the 10k
# Fashion-MNIST test set, else output SQNR against float on a held-out input)
# and latency against the float original side by side at 1 thread
# (node testdata/ort/bench_compare.js).
#   bash testdata/prune_report.sh [OUT_DIR]      (about 15 minutes)
# resnet18 and mobilenet_v2 are random-weight exports: they are calibrated on
# 32 seeded random inputs, and their SQNR says little (mobilenet_v2's output
# hardly depends on its input); their latency is the point.
set -euo pipefail
cd "$(dirname "$0")/.."
GEN=$PWD/testdata/generated ORT=$PWD/testdata/ort
OUT=${1:-$(mktemp -d /tmp/prune_report.XXXXXX)}
mkdir -p "$OUT"
bazel build -c opt //tools:compress >/dev/null 2>&1
BIN=$(bazel info -c opt bazel-bin 2>/dev/null)
echo "# prune-channels report ($(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, onnxruntime-node $(node -p "require('$ORT/node_modules/onnxruntime-node/package.json').version"))"
echo
echo "Latency: batch 64 for the Fashion-MNIST models, 1 for the others; float is the original file; ONNX Runtime at its default optimisation level."
echo
echo "| model | pipeline | MACs kept | size | accuracy | float ms | ms | speedup | compress s |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
row() {  # model pipeline tag calib
  local m=$1 p=$2 tag=$3 calib=$4 q=$OUT/$1.$3.onnx t0 t1
  t0=$(date +%s.%N)
  "$BIN/tools/compress" --input "$GEN/$m/model.onnx" --output "$q" ${calib:+--calib-data "$calib"} \
    --pipeline "$p" --check-samples 0 --report "$q.json" > "$q.log" 2>&1 || { tail -5 "$q.log" >&2; return 1; }
  t1=$(date +%s.%N)
  local kept acc bench
  kept=$(/usr/bin/python3 -c "
import json; j=json.load(open('$q.json'))
d=[p['details'] for p in j['passes'] if p['pass']=='prune-channels']
print('%.0f%%' % (100.0*d[-1]['macs_after']/d[-1]['macs_before']) if d else '100%')")
  case $m in
    fmnist*)
      acc=$(node "$ORT/eval_fmnist.js" --data "$GEN/fmnist" "$q" | /usr/bin/python3 -c "import json,sys; print('top-1 %.4f' % json.loads(sys.stdin.readlines()[-1])['top1'])") ;;
    *)
      node "$ORT/run.js" "$GEN/$m/model.onnx" "$GEN/$m/test_data_set_1" "$OUT/$m.ref" >/dev/null
      node "$ORT/run.js" "$q" "$GEN/$m/test_data_set_1" "$q.out" >/dev/null
      acc=$(/usr/bin/python3 - "$OUT/$m.ref" "$q.out" <<'PY'
import sys, glob, os, onnx, numpy as np
from onnx import numpy_helper
def load(d): return [numpy_helper.to_array(onnx.load_tensor(f)) for f in sorted(glob.glob(os.path.join(d, 'output_*.pb')))]
r, x = load(sys.argv[1])[0].astype(np.float64), load(sys.argv[2])[0].astype(np.float64)
print('SQNR %.1f dB' % (10*np.log10((r**2).sum()/max(((r-x)**2).sum(), 1e-30))))
PY
) ;;
  esac
  local batch=1
  case $m in fmnist*) batch=64 ;; esac
  bench=$(node "$ORT/bench_compare.js" "$GEN/$m/model.onnx" "$q" --threads 1 --rounds 5 --batch $batch)
  /usr/bin/python3 - "$m" "$p" "$kept" "$(stat -c %s "$q")" "$acc" "$bench" "$t0" "$t1" <<'PY'
import sys
m, p, kept, size, acc, bench, t0, t1 = sys.argv[1:]
kv = dict(t.split('=') for t in bench.split() if '=' in t)
print(f"| {m} | `{p}` | {kept} | {int(size)/1e6:.2f} MB | {acc} | {float(kv['a_median_ms']):.2f} | {float(kv['b_median_ms']):.2f} | {float(kv['speedup']):.2f}x | {float(t1)-float(t0):.0f} |")
PY
}
for m in fmnist fmnist_resnet; do
  c=$GEN/$m/calib
  row $m "optimize" float "$c"
  row $m "optimize,prune-channels{ratio=0.3,round-to=1,reconstruct=false}" r30_norefit "$c"
  row $m "optimize,prune-channels{ratio=0.3,round-to=1}" r30 "$c"
  row $m "optimize,prune-channels{ratio=0.3}" r30_round8 "$c"
  row $m "optimize,prune-channels{target-macs=0.7}" macs70 "$c"
  row $m "optimize,prune-channels{target-macs=0.5}" macs50 "$c"
  row $m "optimize,quantize" int8 "$c"
  row $m "optimize,prune-channels{target-macs=0.5},quantize" macs50_int8 "$c"
done
for m in resnet18 mobilenet_v2; do
  c=$OUT/calib_$m
  for i in $(seq 0 31); do
    [ -d "$c/test_data_set_$i" ] || /usr/bin/python3 testdata/random_inputs.py "$GEN/$m/model.onnx" "$c/test_data_set_$i" --seed $((i + 100)) >/dev/null
  done
  row $m "optimize" float "$c"
  row $m "optimize,prune-channels{target-macs=0.7}" macs70 "$c"
  row $m "optimize,prune-channels{target-macs=0.5}" macs50 "$c"
  row $m "optimize,prune-channels{target-macs=0.5,reconstruct=false}" macs50_norefit "$c"
  row $m "optimize,prune-channels{target-macs=0.5,round-to=1}" macs50_round1 "$c"
  row $m "optimize,quantize" int8 "$c"
  row $m "optimize,prune-channels{target-macs=0.5},quantize" macs50_int8 "$c"
done
