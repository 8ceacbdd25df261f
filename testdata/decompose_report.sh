#!/usr/bin/env bash
# The decomposition tables of the README: for each model and pipeline, the
# multiply-adds, accuracy in ONNX Runtime (top-1 on the 10k Fashion-MNIST test
# set, else output SQNR against float on held-out input) and latency against
# the float original side by side at 1 thread (node testdata/ort/bench_compare.js).
#   bash testdata/decompose_report.sh [OUT_DIR]      (about 10 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
GEN=$PWD/testdata/generated ORT=$PWD/testdata/ort
OUT=${1:-$(mktemp -d /tmp/decompose_report.XXXXXX)}
mkdir -p "$OUT"
bazel build -c opt //tools:compress //tools:run >/dev/null 2>&1
BIN=$(bazel info bazel-bin 2>/dev/null)
echo "# decompose report ($(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, onnxruntime-node $(node -p "require('$ORT/node_modules/onnxruntime-node/package.json').version"))"
echo
echo "Latency: batch 64 for the Fashion-MNIST models, 1 for the others; float is the original file."
echo
echo "| model | pipeline | MACs kept | accuracy | float ms | ms | speedup |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
row() {  # model pipeline tag calib
  local m=$1 p=$2 tag=$3 calib=$4 q=$OUT/$1.$3.onnx
  "$BIN/tools/compress" --input "$GEN/$m/model.onnx" --output "$q" ${calib:+--calib-data "$calib"} \
    --pipeline "$p" --check-samples 0 --report "$q.json" > "$q.log" 2>&1 || { tail -5 "$q.log" >&2; return 1; }
  local kept acc bench
  kept=$(/usr/bin/python3 -c "
import json,sys; j=json.load(open('$q.json'))
d=[p['details'] for p in j['passes'] if p['pass']=='decompose']
print('%.0f%%' % (100.0*d[-1]['macs_after']/d[-1]['macs_before']) if d else '100%')")
  if [ -f "$GEN/$m/float_top1.txt" ] || [ "$m" = fmnist ]; then
    acc=$(node "$ORT/eval_fmnist.js" --data "$GEN/fmnist" "$q" | /usr/bin/python3 -c "import json,sys; print('top-1 %.4f' % json.loads(sys.stdin.readlines()[-1])['top1'])")
  else
    node "$ORT/run.js" "$GEN/$m/model.onnx" "$GEN/$m/test_data_set_1" "$OUT/$m.ref" >/dev/null
    node "$ORT/run.js" "$q" "$GEN/$m/test_data_set_1" "$q.out" >/dev/null
    acc=$(/usr/bin/python3 - "$OUT/$m.ref" "$q.out" <<'PY'
import sys, glob, os, onnx, numpy as np
from onnx import numpy_helper
def load(d): return [numpy_helper.to_array(onnx.load_tensor(f)) for f in sorted(glob.glob(os.path.join(d, 'output_*.pb')))]
r, x = load(sys.argv[1])[0].astype(np.float64), load(sys.argv[2])[0].astype(np.float64)
print('SQNR %.1f dB' % (10*np.log10((r**2).sum()/max(((r-x)**2).sum(), 1e-30))))
PY
)
  fi
  local batch=1
  case $m in fmnist*) batch=64 ;; esac  # a 28x28 image alone takes microseconds
  bench=$(node "$ORT/bench_compare.js" "$GEN/$m/model.onnx" "$q" --threads 1 --rounds 5 --batch $batch)
  /usr/bin/python3 - "$m" "$p" "$kept" "$acc" "$bench" <<'PY'
import sys
m, p, kept, acc, bench = sys.argv[1:]
kv = dict(t.split('=') for t in bench.split() if '=' in t)
print(f"| {m} | `{p}` | {kept} | {acc} | {float(kv['a_median_ms']):.2f} | {float(kv['b_median_ms']):.2f} | {float(kv['speedup']):.2f}x |")
PY
}
for m in fmnist fmnist_resnet; do
  c=$GEN/$m/calib
  row $m "optimize" float "$c"
  row $m "optimize,decompose" auto "$c"
  row $m "optimize,decompose{refine=true}" auto_refine "$c"
  row $m "optimize,decompose{target-macs=0.7}" macs70 "$c"
  row $m "optimize,decompose{target-macs=0.7,refine=true}" macs70_refine "$c"
  row $m "optimize,quantize" int8 "$c"
  row $m "optimize,decompose{target-macs=0.7,refine=true},quantize" macs70_refine_int8 "$c"
done
row resnet18 "optimize,decompose" auto ""
row resnet18 "optimize,decompose{rank=ratio,ratio=0.7}" ratio70 ""
row transformer "optimize,decompose" auto ""
row transformer "optimize,decompose{rank=ratio,ratio=0.7}" ratio70 ""
