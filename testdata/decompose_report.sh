#!/usr/bin/env bash
# The decomposition tables of the README: for each model and pipeline, the
# multiply-adds, accuracy in ONNX Runtime (top-1 on the 10k Fashion-MNIST test
# set, else output SQNR against float on held-out input) and latency against
# the float original side by side at 1 thread (node testdata/ort/bench_compare.js).
#   bash testdata/decompose_report.sh [OUT_DIR]      (about 10 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
source testdata/report_lib.sh
report_setup decompose_report "${1:-}"
report_heading "decompose report"
echo
echo "Latency: batch 64 for the Fashion-MNIST models, 1 for the others; float is the original file."
echo
echo "| model | pipeline | MACs kept | accuracy | float ms | ms | speedup |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
row() {  # model pipeline tag calib
  local m=$1 p=$2 tag=$3 calib=$4 q=$OUT/$1.$3.onnx
  "$BIN/tools/compress" --input "$GEN/$m/model.onnx" --output "$q" ${calib:+--calib-data "$calib"} \
    --pipeline "$p" --check-samples 0 --report "$q.json" > "$q.log" 2>&1 || { tail -5 "$q.log" >&2; return 1; }
  echo "| $m | \`$p\` | $(macs_kept "$q.json" decompose) | $(accuracy_of "$m" "$q" "$OUT") | $(latency_cells "$m" "$q") |"
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
