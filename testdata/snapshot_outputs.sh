#!/usr/bin/env bash
# Proof that a refactoring changed nothing: runs compress over every model the
# tests use, with the default pipeline, `optimize` and each quantization
# scheme, and prints one line per run with the SHA-256 of the written model
# and of its quantization record.
#
#   bash testdata/snapshot_outputs.sh > before.txt      # on the old tree
#   bash testdata/snapshot_outputs.sh > after.txt       # on the new tree
#   diff before.txt after.txt && echo identical
#
# Env: COMPRESS (a built tools/compress; default: bazel build it), OUT (work
# folder, default a fixed /tmp path: the record names the model's path, so both
# runs must write to the same place). Needs testdata/generate.sh to have run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
GEN=$ROOT/testdata/generated
SMALL=$ROOT/testdata/models
OUT=${OUT:-/tmp/onnxc-snapshot}
rm -rf "$OUT"
mkdir -p "$OUT"
if [[ -z "${COMPRESS:-}" ]]; then
  bazel build //tools:compress >/dev/null 2>&1 || { bazel build //tools:compress; exit 1; }
  cp -f "$(bazel info bazel-bin 2>/dev/null)/tools/compress" "$OUT/compress"
  COMPRESS=$OUT/compress
fi

# name model calibration-data
models=(
  "fmnist $GEN/fmnist/model.onnx $GEN/fmnist/calib"
  "resnet18 $GEN/resnet18/model.onnx $GEN/resnet18/test_data_set_1"
  "mobilenet_v2 $GEN/mobilenet_v2/model.onnx $GEN/mobilenet_v2/test_data_set_1"
  "transformer $GEN/transformer/model.onnx $GEN/transformer/test_data_set_1"
  "conv_bn $SMALL/conv_bn.onnx random"
  "conv_bn_ir3 $SMALL/conv_bn_ir3.onnx random"
  "convtranspose_bn $SMALL/convtranspose_bn.onnx random"
  "shared_weight_conv_bn $SMALL/shared_weight_conv_bn.onnx random"
  "constant_node_weights $SMALL/constant_node_weights.onnx random"
  "if_subgraph $SMALL/if_subgraph.onnx random"
  "loop_subgraph $SMALL/loop_subgraph.onnx random"
  "metadata_functions $SMALL/metadata_functions.onnx -"
  "external_data $SMALL/external_data/model.onnx random"
)
pipelines=(
  "default"
  "optimize"
  "optimize,quantize"
  "optimize,quantize{method=entropy}"
  "optimize,quantize{method=percentile}"
  "optimize,quantize{scheme=w8a16-act}"
  "optimize,quantize{scheme=w8a16}"
  "optimize,quantize{scheme=w4a16}"
  "optimize,quantize{scheme=dynamic}"
  "optimize,layer-sensitivity{eval-samples=4},fallback{top-k=2},quantize"
)
hash() { if [[ -f "$1" ]]; then sha256sum "$1" | cut -c1-16; else echo "-"; fi; }

for m in "${models[@]}"; do
  read -r name model calib <<<"$m"
  [[ -f $model ]] || { echo "missing $model: run bash testdata/generate.sh" >&2; exit 1; }
  for p in "${pipelines[@]}"; do
    # Models nothing can calibrate (an op without a kernel) get the rewrites only.
    if [[ $calib == - && $p == *quantize* ]]; then continue; fi
    tag=$(echo "$name.$p" | tr -c 'A-Za-z0-9_.\n' '_')
    out=$OUT/$tag.onnx
    args=(--input "$model" --output "$out" --check-samples 0)
    if [[ $p == default ]]; then
      [[ $calib != - ]] && args+=(--calib-data "$calib")
    else
      args+=(--pipeline "$p")
      [[ $p == *quantize* || $p == *sensitivity* ]] && args+=(--calib-data "$calib")
    fi
    if "$COMPRESS" "${args[@]}" > "$OUT/$tag.log" 2>&1; then
      echo "$name | $p | model $(hash "$out") | record $(hash "$out.quant_record.pbtxt")"
    else
      echo "$name | $p | FAILED (exit $?): $(grep -m1 error "$OUT/$tag.log" | cut -c1-120)"
    fi
  done
done
