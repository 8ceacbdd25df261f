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
source testdata/report_lib.sh
report_setup prune_report "${1:-}"
report_heading "prune-channels report"
echo
echo "Latency: batch 64 for the Fashion-MNIST models, 1 for the others; float is the original file; ONNX Runtime at its default optimisation level."
echo
echo "| model | pipeline | MACs kept | size | accuracy | float ms | ms | speedup | compress s |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
row() {  # model pipeline tag calib
  local m=$1 p=$2 tag=$3 calib=$4 q=$OUT/$1.$3.onnx t0 t1
  t0=$(date +%s)
  "$BIN/tools/compress" --input "$GEN/$m/model.onnx" --output "$q" ${calib:+--calib-data "$calib"} \
    --pipeline "$p" --check-samples 0 --report "$q.json" > "$q.log" 2>&1 || { tail -5 "$q.log" >&2; return 1; }
  t1=$(date +%s)
  echo "| $m | \`$p\` | $(macs_kept "$q.json" prune-channels) | $(stat -c %s "$q" | awk '{printf "%.2f MB", $1/1e6}') |" \
       "$(accuracy_of "$m" "$q" "$OUT") | $(latency_cells "$m" "$q") | $((t1 - t0)) |"
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
