#!/bin/bash
# Latency of the in-house executor (tools/run --bench) vs onnxruntime-node
# (testdata/ort/bench.js) on resnet18 and mobilenet_v2 (batch 1 and 8) and the
# BERT-style encoder (batch 1 and 4), with 1 and 2 threads. Prints a table
# with the ratio ours/ORT (lower is better).
#
#   kernels/bench_vs_ort.sh [ITERS]        (default 20)
#   MODELS="resnet18 efficientnet_b0" SETS=0 kernels/bench_vs_ort.sh
#        (MODELS: any of testdata/generated/*, default the CNN zoo and the
#        encoder; SETS: 0 = batch 1, 1 = batch 8 (encoder 4), default both)
#   MODELS="op_softmax_axis1 op_logsoftmax_axis1 op_softmax_last op_layernorm" SETS=0 kernels/bench_vs_ort.sh
#        (single operators, from testdata/make_op_models.py)
#   OPTIMIZED=1 kernels/bench_vs_ort.sh
#        (adds a row per model after `compress --pipeline optimize`, BN folded
#        away, both runtimes on that file)
#
# Needs testdata/generated/{resnet18,mobilenet_v2} (testdata/make_torchvision.py)
# and onnxruntime-node under testdata/ort/node_modules
# (npm install onnxruntime-node --onnxruntime-node-install=skip).
# Both runtimes get inputs of the same shape (ours: the reference inputs of
# test_data_set_0 = batch 1 and test_data_set_1 = batch 8; ORT: seeded random
# data of that shape via --shape-from); latency does not depend on values.
set -euo pipefail
ITERS="${1:-20}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bazel build //tools:run //tools:compress >/dev/null 2>&1 || { echo "bazel build //tools:run failed" >&2; exit 1; }
RUN="$(bazel info bazel-bin 2>/dev/null)/tools/run"
COMPRESS="$(bazel info bazel-bin 2>/dev/null)/tools/compress"
TMP="$(mktemp -d /tmp/bench_vs_ort.XXXXXX)"
ORT="$ROOT/testdata/ort/bench.js"
[ -f "$ORT" ] || ORT="$ROOT/kernels/ort_bench.js"
median() { sed -n 's/.*median_ms=\([0-9.]*\).*/\1/p' | tail -1; }

printf "%-14s %5s %7s %12s %12s %8s\n" model batch threads ours_ms ort_ms ratio
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'); $(grep -o -w 'avx2\|avx512f\|avx512_vnni\|avx_vnni' /proc/cpuinfo | sort -u | tr '\n' ' ')"
for model in ${MODELS:-resnet18 mobilenet_v2 shufflenet_v2 regnet_x_400mf efficientnet_b0 transformer}; do
  dir="$ROOT/testdata/generated/$model"
  [ -f "$dir/model.onnx" ] || { echo "missing $dir/model.onnx" >&2; exit 1; }
  files=("$dir/model.onnx")
  if [ "${OPTIMIZED:-0}" = 1 ]; then
    "$COMPRESS" --input "$dir/model.onnx" --output "$TMP/$model.opt.onnx" --pipeline optimize --check-samples 0 \
      >/dev/null 2>&1 || { echo "compress --pipeline optimize failed on $model" >&2; exit 1; }
    files+=("$TMP/$model.opt.onnx")
  fi
  for file in "${files[@]}"; do
    label=$model
    [ "$file" = "$dir/model.onnx" ] || label="$model+opt"
    for set in ${SETS:-0 1}; do
      batch=1
      if [ "$set" = 1 ]; then batch=$([ "$model" = transformer ] && echo 4 || echo 8); fi
      for threads in 1 2; do
        ours=$("$RUN" --model "$file" --inputs "$dir/test_data_set_$set" \
                 --threads "$threads" --bench "$ITERS" | median)
        ort=$(node "$ORT" "$file" --batch "$batch" --threads "$threads" \
                 --iters "$ITERS" --shape-from "$dir/test_data_set_$set" | median)
        ratio=$(awk -v a="$ours" -v b="$ort" 'BEGIN { printf "%.2f", a / b }')
        printf "%-14s %5s %7s %12s %12s %8s\n" "$label" "$batch" "$threads" "$ours" "$ort" "$ratio"
      done
    done
  done
done
rm -rf "$TMP"
