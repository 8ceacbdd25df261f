#!/usr/bin/env bash
# Times graph optimisation side by side, as a user sees it (whole processes,
# load + optimise + save): our `optimize` pipeline via compress, against ONNX
# Runtime's basic optimisation writing its optimised model
# (session option optimizedModelFilePath). Prints a table with the ratio.
#   bash testdata/optimize_vs_ort.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
GEN=testdata/generated
bazel build -c opt //tools:compress >/dev/null 2>&1
COMPRESS=$(bazel info bazel-bin 2>/dev/null)/tools/compress
TMP=$(mktemp -d)
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
printf "| model | nodes | ours: compress --pipeline optimize (ms) | ORT basic + save (ms) | ours / ORT |\n|---|---|---|---|---|\n"
for m in resnet18 mobilenet_v2 fmnist; do
  model=$GEN/$m/model.onnx
  [ -f "$model" ] || { echo "missing $model (run testdata/generate.sh)" >&2; exit 1; }
  ours=$(for i in $(seq "$RUNS"); do ms "$COMPRESS" --input "$model" --output "$TMP/$m.opt.onnx" --pipeline optimize --check-samples 0; done | median)
  ort=$(for i in $(seq "$RUNS"); do ms node testdata/ort/bench.js "$model" --batch 1 --threads 1 --iters 1 --save-optimized "$TMP/$m.ort.onnx"; done | median)
  nodes=$(/usr/bin/python3 -c "import onnx,sys; print(len(onnx.load('$model', load_external_data=False).graph.node))")
  printf "| %s | %s | %s | %s | %.2f |\n" "$m" "$nodes" "$ours" "$ort" "$(echo "$ours / $ort" | bc -l)"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); each figure is the median of $RUNS whole-process runs"
rm -rf "$TMP"
