#!/usr/bin/env bash
# The README's deployment-target tables, measured:
#   bash testdata/target_report.sh [OUT_DIR]
# 1. Accuracy: every test model quantized for every target; compress's own
#    check (computed as the target computes) beside ONNX Runtime at its
#    default level on this CPU, as on an x86 CPU with AVX2 and no VNNI (node
#    under qemu-x86_64 -cpu Haswell-noTSX), and with optimisations disabled;
#    all on held-out inputs (test_data_set_0). Fashion-MNIST top-1 on the 10k
#    test set too.
# 2. Speed: ONNX Runtime float vs int8 latency per target, side by side in one
#    process (testdata/ort/bench_compare.js), at 1 thread, on this CPU.
# Env: COMPRESS (a built tools/compress), TARGETS, MODELS, SPEED_MODELS, ROUNDS.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
GEN=$ROOT/testdata/generated
ORT=$ROOT/testdata/ort
OUT=${1:-$(mktemp -d /tmp/target_report.XXXXXX)}
mkdir -p "$OUT"
TARGETS=${TARGETS:-"portable x86-avx2 x86-vnni arm64 tensorrt ascend generic"}
MODELS=${MODELS:-"fmnist fmnist_resnet resnet18 mobilenet_v2 shufflenet_v2 efficientnet_b0 transformer audio_kws"}
SPEED_MODELS=${SPEED_MODELS:-"resnet18 mobilenet_v2 shufflenet_v2 regnet_x_400mf efficientnet_b0 fmnist_resnet transformer thirdparty/blazeface_front thirdparty/mlsd_tiny"}
ROUNDS=${ROUNDS:-5}
if [[ -z "${COMPRESS:-}" ]]; then
  bazel build //tools:compress >/dev/null 2>&1 || { bazel build //tools:compress; exit 1; }
  cp -f "$(bazel info bazel-bin 2>/dev/null)/tools/compress" "$OUT/compress"
  COMPRESS=$OUT/compress
fi
QEMU=(qemu-x86_64 -cpu Haswell-noTSX "$(command -v node)")
calib_of() {  # the calibration data the tests use for a model
  if [[ -d $GEN/$1/calib ]]; then echo "$GEN/$1/calib"; else echo "$GEN/$1/test_data_set_1"; fi
}
sqnr() {  # sqnr REF_DIR OUT_DIR: output 0 SQNR in dB
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, numpy as np
from onnx import TensorProto, numpy_helper
def load(d):
    t = TensorProto(); t.ParseFromString(open(d + "/output_0.pb", "rb").read())
    return numpy_helper.to_array(t).astype(np.float64)
r, x = load(sys.argv[1]), load(sys.argv[2])
print(f"{10 * np.log10((r ** 2).sum() / max(((r - x) ** 2).sum(), 1e-30)):.1f}")
PY
}

echo "# Deployment targets ($(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores,"
echo "#   ISA flags: $(grep -m1 -o -w -E 'avx512_vnni|avx_vnni' /proc/cpuinfo | sort -u | xargs) $(grep -m1 -q -w avx2 /proc/cpuinfo && echo avx2))"
echo "outputs in $OUT"
echo
echo "## Output SQNR against the float model (dB), held-out inputs"
echo
echo "| model | target | compress check | ORT default, this CPU | ORT default, AVX2 no VNNI | ORT disabled |"
echo "| --- | --- | --- | --- | --- | --- |"
for m in $MODELS; do
  set0=$GEN/$m/test_data_set_0
  node "$ORT/run.js" "$GEN/$m/model.onnx" "$set0" "$OUT/$m.ref" --threads 1 >/dev/null
  for t in $TARGETS; do
    q=$OUT/$m.$t.onnx
    "$COMPRESS" --input "$GEN/$m/model.onnx" --output "$q" --calib-data "$(calib_of "$m")" --target "$t" \
      --check-data "$set0" --check-samples 100000 --report "$q.json" > "$q.log" 2>&1 || { cat "$q.log" >&2; exit 1; }
    ours=$(/usr/bin/python3 -c "import json;a=json.load(open('$q.json'))['accuracy'];print(f\"{a['worst_over_runs'][0]['sqnr_db']:.1f}\" if 'worst_over_runs' in a else 'skipped')")
    node "$ORT/run.js" "$q" "$set0" "$q.nat" --threads 1 >/dev/null
    "${QEMU[@]}" "$ORT/run.js" "$q" "$set0" "$q.avx2" --threads 1 >/dev/null 2>&1
    node "$ORT/run.js" "$q" "$set0" "$q.dis" --threads 1 --opt disabled >/dev/null
    echo "| $m | $t | $ours | $(sqnr "$OUT/$m.ref" "$q.nat") | $(sqnr "$OUT/$m.ref" "$q.avx2") | $(sqnr "$OUT/$m.ref" "$q.dis") |"
  done
done

echo
echo "## Fashion-MNIST CNN top-1 on the 10k test set (float $(cat "$GEN/fmnist/float_top1.txt"))"
echo
echo "| target | top-1, this CPU | top-1, AVX2 no VNNI | logits SQNR this CPU / AVX2 |"
echo "| --- | --- | --- | --- |"
for t in $TARGETS; do
  q=$OUT/fmnist.$t.onnx
  nat=$(node "$ORT/eval_fmnist.js" --data "$GEN/fmnist" --ref "$GEN/fmnist/model.onnx" "$q" | tail -1)
  emu=$("${QEMU[@]}" "$ORT/eval_fmnist.js" --data "$GEN/fmnist" --ref "$GEN/fmnist/model.onnx" "$q" 2>/dev/null | tail -1)
  /usr/bin/python3 - "$t" "$nat" "$emu" <<'PY'
import json, sys
t, n, e = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(f"| {t} | {n['top1']:.4f} | {e['top1']:.4f} | {n['sqnr_db']:.1f} / {e['sqnr_db']:.1f} |")
PY
done

echo
echo "## ONNX Runtime latency on this CPU, float vs int8, batch 1, 1 thread (median of $ROUNDS interleaved rounds)"
echo
echo "Estimated: compress's speed estimate (passes/quantization/speed_estimate.h) for x86 with / without VNNI."
echo "Measurements and work counts go to $OUT/speed.jsonl (testdata/fit_speed_costs.py fits the costs to them)."
echo
echo "| model | target | float ms | int8 ms | int8 speedup | estimated, VNNI / no VNNI |"
echo "| --- | --- | --- | --- | --- | --- |"
: > "$OUT/speed.jsonl"
for m in $SPEED_MODELS; do
  model=$GEN/$m/model.onnx; [[ -f $model ]] || model=$GEN/$m.onnx
  calib=$(calib_of "$m"); [[ -d $calib ]] || calib=${model%.onnx}/test_data_set_0
  shape_from=${model%.onnx}/test_data_set_0; [[ -d $shape_from ]] || shape_from=$(dirname "$model")/test_data_set_0
  variants="portable x86-avx2 x86-vnni"
  for t in $variants portable+dwfloat; do
    q=$OUT/$(basename "$m").$t.speed.onnx
    extra=(--target "${t%+dwfloat}")
    if [[ $t == *+dwfloat ]]; then
      echo "keep_depthwise_float: true" > "$OUT/dwfloat.pbtxt"
      extra+=(--pipeline "optimize,quantize{config=$OUT/dwfloat.pbtxt}")
    fi
    "$COMPRESS" --input "$model" --output "$q" --calib-data "$calib" "${extra[@]}" \
      --check-samples 1 --report "$q.json" > "$q.log" 2>&1 || { cat "$q.log" >&2; exit 1; }
    line=$(node "$ORT/bench_compare.js" "$model" "$q" --threads 1 --batch 1 --rounds "$ROUNDS" --shape-from "$shape_from" | tail -1)
    /usr/bin/python3 - "$m" "$t" "$line" "$q.json" "$OUT/speed.jsonl" <<'PY'
import json, sys
m, t, line, report, jsonl = sys.argv[1:]
kv = dict(p.split("=") for p in line.split() if "=" in p)
speed = json.load(open(report)).get("speed_estimate", {})
est = " / ".join(f"{speed[c]['speedup']:.2f}x" if c in speed else "-" for c in ("x86 with VNNI", "x86 without VNNI"))
print(f"| {m} | {t} | {float(kv['a_median_ms']):.2f} | {float(kv['b_median_ms']):.2f} | {float(kv['speedup']):.2f}x | {est} |")
with open(jsonl, "a") as f:
    f.write(json.dumps({"model": m, "target": t, "float_ms": float(kv["a_median_ms"]),
                        "int8_ms": float(kv["b_median_ms"]), "speed": speed}) + "\n")
PY
  done
done
