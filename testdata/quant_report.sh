#!/usr/bin/env bash
# The README's quantization figures, measured in onnxruntime-node:
#   bash testdata/quant_report.sh [OUT_DIR]      (default: a temporary folder)
# 1. Fashion-MNIST W8A8 (256 calibration images) for every calibration method:
#    top-1 on the full 10k test set vs the float model, logits SQNR / cosine, file size.
# 2. resnet18 / mobilenet_v2: file size, what ORT fused, and CPU latency float vs
#    QDQ side by side (one process, interleaved rounds), batch 1 and 8, 1 and 2 threads.
# Env: COMPRESS (a built tools/compress; default: bazel build it), ROUNDS (default 5), ITERS1 (timed runs per round at batch 1, default 10),
#      ITERS8 (batch 8, default 3). Needs testdata/generate.sh to have run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
GEN=$ROOT/testdata/generated
ORT=$ROOT/testdata/ort
OUT=${1:-$(mktemp -d /tmp/quant_report.XXXXXX)}
mkdir -p "$OUT"
ROUNDS=${ROUNDS:-5}; ITERS1=${ITERS1:-10}; ITERS8=${ITERS8:-3}
for f in fmnist/model.onnx resnet18/model.onnx mobilenet_v2/model.onnx; do
  [[ -f $GEN/$f ]] || { echo "missing $GEN/$f: run bash testdata/generate.sh" >&2; exit 1; }
done

if [[ -z "${COMPRESS:-}" ]]; then  # COMPRESS=/path/to/compress skips the build
  bazel build //tools:compress >/dev/null 2>&1 || { bazel build //tools:compress; exit 1; }
  # A private copy: other builds may replace bazel-bin's while this runs.
  cp -f "$(bazel info bazel-bin 2>/dev/null)/tools/compress" "$OUT/compress"
  COMPRESS=$OUT/compress
fi
size() { stat -c %s "$1"; }

echo "# Quantization report ($(date -u +%F), onnxruntime-node $(node -p "require('$ORT/node_modules/onnxruntime-node/package.json').version"), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
echo "outputs in $OUT"
echo
echo "## Fashion-MNIST CNN, W8A8, 256 calibration images (full 10k test set, onnxruntime-node)"
echo
FM=$GEN/fmnist
models=()
for m in minmax moving-average percentile entropy mse ifmr; do
  "$COMPRESS" --input "$FM/model.onnx" --output "$OUT/fmnist_$m.onnx" --calib-data "$FM/calib" \
    --pipeline "optimize,quantize{method=$m}" > "$OUT/fmnist_$m.log" 2>&1 \
    || { cat "$OUT/fmnist_$m.log" >&2; exit 1; }
  models+=("$OUT/fmnist_$m.onnx")
done
node "$ORT/eval_fmnist.js" --data "$FM" --ref "$FM/model.onnx" "${models[@]}" > "$OUT/fmnist_eval.jsonl"
float_bytes=$(size "$FM/model.onnx")
/usr/bin/python3 - "$OUT/fmnist_eval.jsonl" "$float_bytes" <<'PY'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
fb = int(sys.argv[2])
ref = rows[0]
print("| model | top-1 (10k) | vs float | logits SQNR | cosine mean / min | argmax agrees | bytes | smaller |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
print(f"| float | {ref['top1']:.4f} | | | | | {fb} | 1.00x |")
for r in rows[1:]:
    name = os.path.basename(r["model"])[len("fmnist_"):-len(".onnx")]
    b = os.path.getsize(r["model"])
    print(f"| {name} | {r['top1']:.4f} | {100*(r['top1']-ref['top1']):+.2f} pt | {r['sqnr_db']:.1f} dB | "
          f"{r['cosine_mean']:.6f} / {r['cosine_min']:.4f} | {100*r['agree']:.2f}% | {b} | {fb/b:.2f}x |")
worst = min(r["top1"] for r in rows[1:])
print(f"\nworst method loses {100*(ref['top1']-worst):.2f} points (target <= 0.5)")
PY

echo
echo "## resnet18 / mobilenet_v2 (random weights), calibrated on test_data_set_1 (8 images)"
echo
echo "| model | float bytes | QDQ bytes | smaller | ORT 'all' graph of the QDQ model |"
echo "| --- | --- | --- | --- | --- |"
for net in resnet18 mobilenet_v2; do
  "$COMPRESS" --input "$GEN/$net/model.onnx" --output "$OUT/$net.qdq.onnx" --calib-data "$GEN/$net/test_data_set_1" \
    > "$OUT/$net.log" 2>&1 || { cat "$OUT/$net.log" >&2; exit 1; }
  ops=$(node "$ORT/fused_ops.js" "$OUT/$net.qdq.onnx" --opt all 2>/dev/null | tail -1)
  echo "| $net | $(size "$GEN/$net/model.onnx") | $(size "$OUT/$net.qdq.onnx") | $(/usr/bin/python3 -c "print(f'{$(size "$GEN/$net/model.onnx")/$(size "$OUT/$net.qdq.onnx"):.2f}x')") | \`$ops\` |"
done

echo
echo "## ONNX Runtime CPU latency, float vs QDQ in one process (median of ${ROUNDS} interleaved rounds)"
echo
echo "| model | batch | threads | float ms | int8 ms | speedup | load avg (1m,5m) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for net in resnet18 mobilenet_v2; do
  for b in 1 8; do
    iters=$([[ $b == 1 ]] && echo "$ITERS1" || echo "$ITERS8")
    for t in 1 2; do
      line=$(node "$ORT/bench_compare.js" "$GEN/$net/model.onnx" "$OUT/$net.qdq.onnx" --batch $b --threads $t \
             --iters "$iters" --rounds "$ROUNDS" --shape-from "$GEN/$net/test_data_set_0" 2>/dev/null)
      get() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" <<<"$line"; }
      echo "| $net | $b | $t | $(get a_median_ms) | $(get b_median_ms) | $(get speedup)x | $(get loadavg) |"
    done
  done
done
