#!/usr/bin/env bash
# W8A8 with and without smooth-quant (alpha 0.5, auto and search; verify on,
# the default) in ONNX Runtime at its default optimisation level, on held-out
# inputs: output SQNR against the float model, and whether verify kept the
# smoothing ("undone" when it raised the calibration output error).
#   bash testdata/smooth_quant_report.sh [OUT_DIR]        (about 2 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
source testdata/report_lib.sh
report_setup smooth_quant_report "${1:-}"
COMPRESS=$BIN/tools/compress
report_heading "smooth-quant"
echo
echo "| model | smooth-quant options | \`optimize,quantize\` | \`smooth-quant\` | \`smooth-quant{alpha=auto}\` | \`smooth-quant{alpha=search}\` |"
echo "| --- | --- | --- | --- | --- | --- |"
# model:options given to every smooth-quant of the row
for row in "transformer:" "transformer_outliers:" "fmnist_resnet:ops=[Conv],mul-ops=[]" \
  "fmnist:ops=[Conv,MatMul,Gemm]" "mobilenet_v2:ops=[Conv,MatMul,Gemm]" "audio_kws:ops=[Conv,MatMul,Gemm]"; do
  m=${row%%:*} opts=${row#*:}
  calib=$GEN/$m/calib held=test_data_set_1
  [ -d "$calib" ] || calib=$GEN/$m/test_data_set_0
  [ -d "$GEN/$m/test_data_set_1" ] || held=test_data_set_0
  node "$ORT/run.js" "$GEN/$m/model.onnx" "$GEN/$m/$held" "$OUT/$m.ref" >/dev/null
  sep=${opts:+,}
  cells=()
  for p in "optimize,quantize" "optimize,smooth-quant{${opts}},quantize" "optimize,smooth-quant{alpha=auto${sep}${opts}},quantize" \
    "optimize,smooth-quant{alpha=search${sep}${opts}},quantize"; do
    p=${p//\{\}/}
    t=$(echo "$p" | tr -dc 'a-z')
    q=$OUT/$m.$t.onnx
    "$COMPRESS" --input "$GEN/$m/model.onnx" --output "$q" --calib-data "$calib" --pipeline "$p" --check-samples 0 \
      --report "$q.json" > "$q.log" 2>&1 || { tail -3 "$q.log" >&2; exit 1; }
    node "$ORT/run.js" "$q" "$GEN/$m/$held" "$q.out" >/dev/null
    cell=$(output_sqnr "$OUT/$m.ref" "$q.out")
    verdict=$(/usr/bin/python3 -c "
import json, sys
for p in json.load(open(sys.argv[1]))['passes']:
    if p['pass'] == 'smooth-quant':
        v = p.get('details', {}).get('verify')
        a = ', alpha ' + v['chosen_alpha'] if v is not None and 'chosen_alpha' in v else ''
        print('' if v is None else ('kept' if v['kept'] else 'undone') + a + ', calib %+.2f dB' % v['gain_db'])" "$q.json")
    cells+=("$cell${verdict:+ ($verdict)}")
  done
  echo "| $m | ${opts:-} | $(IFS='|'; echo "${cells[*]}" | sed 's/|/ | /g') |"
done
