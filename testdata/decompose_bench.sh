#!/usr/bin/env bash
# Times `decompose` where AMCT documents its slowest case (one 2048x2048x5x5
# conv: 430 s, ~32 GB) and on resnet18 (every eligible conv), printing wall
# time and peak RSS.  usage: bash testdata/decompose_bench.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-$(mktemp -d /tmp/decompose_bench.XXXXXX)}
mkdir -p "$OUT"
bazel build -c opt //tools:compress >/dev/null 2>&1
COMPRESS=$(bazel info bazel-bin 2>/dev/null)/tools/compress
/usr/bin/python3 testdata/make_big_conv.py "$OUT/big_conv.onnx"
echo "# decompose timing, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
for case in "big_conv:$OUT/big_conv.onnx" "resnet18:testdata/generated/resnet18/model.onnx"; do
  name=${case%%:*}; model=${case#*:}
  /usr/bin/time -f "$name: %e s wall, peak RSS %M KB" "$COMPRESS" --input "$model" --output "$OUT/$name.dec.onnx" \
    --pipeline 'optimize,decompose' --check-samples 0 2>&1 | grep -E 'layers decomposed|wall|rank ' | head -4
done
