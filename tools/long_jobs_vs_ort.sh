#!/bin/bash
# The cost of the long jobs against ONNX Runtime running the same inferences:
# calibration (256 samples in batches of 32) and layer sensitivity (layers + 1
# models over 16 samples at batch 1) on resnet18 and mobilenet_v2. Ours is
# the analysis time compress reports (calibration-stats, layer-sensitivity in
# the report's analyses_computed); ORT's is onnxruntime-node's median latency
# (testdata/ort/bench.js) times the same number of runs of the float model:
# at batch 32 for calibration, at batch 1 for sensitivity (whose candidates
# are the float model with one layer quantized). Both at THREADS threads. Lower ratio is better; the kernels'
# own ratio (kernels/bench_vs_ort.sh) is the floor to compare with.
#
#   tools/long_jobs_vs_ort.sh [THREADS]        (default 1; about 5 minutes)
#   MODELS="mobilenet_v2" tools/long_jobs_vs_ort.sh 2
set -euo pipefail
THREADS=${1:-1}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bazel build //tools:compress >/dev/null 2>&1 || { echo "bazel build //tools:compress failed" >&2; exit 1; }
COMPRESS="$(bazel info bazel-bin 2>/dev/null)/tools/compress"
ORT="$ROOT/testdata/ort/bench.js"
GEN="$ROOT/testdata/generated"
OUT=$(mktemp -d /tmp/long_jobs.XXXXXX)
median() { sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p' | tail -1; }
# analysis NAME's seconds, and the sensitivity's runs, from a compress report
field() { /usr/bin/python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
if sys.argv[2] == 'runs':
    print([p for p in r['passes'] if p['pass'] == 'layer-sensitivity'][0]['details']['runs'])
else:
    print(sum(a['seconds'] for a in r['analyses_computed'] if a['analysis'] == sys.argv[2]))" "$@"; }

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'); $(grep -o -w 'avx2\|avx512f\|avx512_vnni\|avx_vnni' /proc/cpuinfo | sort -u | tr '\n' ' '); $THREADS thread(s)"
printf "%-13s %-34s %6s %10s %10s %7s\n" model job runs ours_s ort_s ratio
for m in ${MODELS:-resnet18 mobilenet_v2}; do
  dir="$GEN/$m"
  # 256 seeded-random images: the speed does not depend on the values.
  /usr/bin/python3 -c "
import numpy as np, sys
np.save(sys.argv[1], np.random.default_rng(0).standard_normal((256, 3, 224, 224), dtype=np.float32))" "$OUT/$m.npy"
  "$COMPRESS" --input "$dir/model.onnx" --output "$OUT/$m.cal.onnx" --pipeline "optimize,calibrate" \
    --calib-data "$OUT/$m.npy" --calib-batch 32 --threads "$THREADS" --check-samples 0 --report "$OUT/$m.cal.json" \
    > "$OUT/$m.cal.log" 2>&1 || { tail -3 "$OUT/$m.cal.log" >&2; exit 1; }
  ours=$(field "$OUT/$m.cal.json" calibration-stats)
  # the runs calibration made: "calibrated 256 samples (16 runs, 2 passes)" (ranges, then histograms)
  runs=$(sed -n 's/^calibrated [0-9]* samples (\([0-9]*\) runs.*/\1/p' "$OUT/$m.cal.log" | head -1)
  ms=$(node "$ORT" "$dir/model.onnx" --batch 32 --threads "$THREADS" --iters 5 --warmup 1 --shape-from "$dir/test_data_set_0" | median)
  ort=$(/usr/bin/python3 -c "print($ms * $runs / 1000)")
  printf "%-13s %-34s %6s %10.2f %10.2f %6.2fx\n" "$m" "calibration (256 samples, batch 32)" "$runs" "$ours" "$ort" \
    "$(/usr/bin/python3 -c "print($ours / $ort)")"

  "$COMPRESS" --input "$dir/model.onnx" --output "$OUT/$m.sens.onnx" --pipeline "optimize,layer-sensitivity{eval-samples=16}" \
    --calib-data "$OUT/$m.npy" --calib-batch 1 --calib-samples 16 --threads "$THREADS" --check-samples 0 \
    --report "$OUT/$m.sens.json" > "$OUT/$m.sens.log" 2>&1 || { tail -3 "$OUT/$m.sens.log" >&2; exit 1; }
  ours=$(field "$OUT/$m.sens.json" layer-sensitivity)
  runs=$(field "$OUT/$m.sens.json" runs)
  ms=$(node "$ORT" "$dir/model.onnx" --batch 1 --threads "$THREADS" --iters 20 --shape-from "$dir/test_data_set_0" | median)
  ort=$(/usr/bin/python3 -c "print($ms * $runs / 1000)")
  printf "%-13s %-34s %6s %10.2f %10.2f %6.2fx\n" "$m" "layer sensitivity (16 samples)" "$runs" "$ours" "$ort" \
    "$(/usr/bin/python3 -c "print($ours / $ort)")"
done
rm -rf "$OUT"
