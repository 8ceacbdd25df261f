#!/usr/bin/env bash
# Builds the large, non-committed test data: bash testdata/generate.sh [OUT_DIR]
# (default testdata/generated, gitignored). Idempotent: each step is skipped when its
# outputs exist and its stamp matches the hash of the script that made them.
#
# Needs these Debian packages (installed by the project setup script, NOT here):
#   python3-torch python3-torchvision python3-onnx python3-numpy dataset-fashion-mnist nodejs npm
# and the npm registry for onnxruntime-node (prebuilt CPU binaries ship inside the package).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-$HERE/generated}
PY=/usr/bin/python3  # Debian's python: the one that sees python3-torch/onnx
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# 1. onnxruntime-node for ort/run.js and ort/bench.js.
want=$(node -p "require('$HERE/ort/package.json').dependencies['onnxruntime-node']")
have=$(node -p "try{require('$HERE/ort/node_modules/onnxruntime-node/package.json').version}catch(e){''}")
if [[ "$have" != "$want" ]]; then
  echo "[generate] npm ci in $HERE/ort (onnxruntime-node $want)"
  # 'skip' stops its install script from downloading extra (GPU) binaries, which
  # fails without internet. Env var form too: newer npm drops unknown CLI flags.
  (cd "$HERE/ort" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --onnxruntime-node-install=skip)
else
  echo "[generate] onnxruntime-node $have already installed"
fi
node -e "require('$HERE/ort/node_modules/onnxruntime-node')" \
  || { echo "[generate] onnxruntime-node does not load" >&2; exit 1; }

# 2. Python generators, re-run only when the script changed or an output is missing.
run_step() {  # run_step SCRIPT OUTPUT_FILE...
  local script=$HERE/$1; shift
  local stamp=$OUT/.stamp-$(basename "$script" .py)
  local hash; hash=$(sha256sum "$script" | cut -d' ' -f1)
  local missing=0 f
  for f in "$@"; do [[ -e "$OUT/$f" ]] || missing=1; done
  if [[ $missing == 0 && -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
    echo "[generate] $(basename "$script"): up to date"
    return
  fi
  echo "[generate] $PY $script --out $OUT"
  rm -f "$stamp"
  local t0=$SECONDS
  "$PY" "$script" --out "$OUT"
  echo "$hash" > "$stamp"
  echo "[generate] $(basename "$script"): done in $((SECONDS - t0))s"
}

run_step make_torchvision.py resnet18/model.onnx resnet18/test_data_set_1/output_0.pb \
  mobilenet_v2/model.onnx mobilenet_v2/test_data_set_1/output_0.pb
run_step make_transformer.py transformer/model.onnx transformer/test_data_set_1/output_0.pb
run_step fashion_mnist.py fmnist/model.onnx fmnist/float_top1.txt fmnist/test_labels.npy \
  fmnist/calib/test_data_set_7/input_0.pb fmnist/test_data_set_0/output_0.pb

echo "[generate] outputs in $OUT"
