#!/usr/bin/env bash
# End-to-end checks of the compress command line: the example run, --help,
# exit codes for bad usage and bad input, the report, config files, dumps,
# and that the input model is never modified.
set -uo pipefail
BIN="$TEST_SRCDIR/onnxcompress/tools/compress"
BENCH="$TEST_SRCDIR/onnxcompress/tools/pipeline_benchmark"  # generates a large model
MODELS="$TEST_SRCDIR/onnxcompress/testdata/models"
T="$TEST_TMPDIR"
fails=0
check() {  # check NAME EXPECTED_EXIT COMMAND... ; output in $T/out
  local name=$1 want=$2; shift 2
  "$@" >"$T/out" 2>&1
  local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL $name: exit $got, expected $want"; sed 's/^/    /' "$T/out" | head -20; fails=$((fails+1))
  else
    echo "ok   $name"
  fi
}
expect_text() {  # expect_text NAME TEXT: $T/out contains TEXT
  if ! grep -qF -- "$2" "$T/out"; then
    echo "FAIL $1: output lacks '$2'"; sed 's/^/    /' "$T/out" | head -20; fails=$((fails+1))
  fi
}

check "example run with no arguments" 0 "$BIN"
expect_text example "ONNX checker and strict type inference passed"
expect_text example "report:"
expect_text example "what it cost"
expect_text example "3.5"  # the bundled CNN comes out ~3.57x smaller

check "--help" 0 "$BIN" --help
for flag in input output pipeline config report list-passes time-passes verify-each dump-ir-before dump-ir-after external-data-threshold; do
  expect_text "--help documents --$flag" "--$flag"
done
check "--list-passes" 0 "$BIN" --list-passes
expect_text list dce

check "unknown flag" 2 "$BIN" --inptu x.onnx
expect_text "unknown flag" "unknown flag --inptu"
check "missing --output" 2 "$BIN" --input "$MODELS/conv_bn.onnx"
check "unknown pass" 2 "$BIN" --input "$MODELS/conv_bn.onnx" --output "$T/o.onnx" --pipeline "dce,fold-everything"
expect_text "unknown pass" "unknown pass 'fold-everything'"
check "input does not exist" 3 "$BIN" --input "$T/none.onnx" --output "$T/o.onnx"
check "truncated model" 3 "$BIN" --input "$MODELS/bad/truncated.onnx" --output "$T/o.onnx"
expect_text truncated "truncated or corrupt"
check "dangling input" 3 "$BIN" --input "$MODELS/bad/dangling_input.onnx" --output "$T/o.onnx"
expect_text dangling "which nothing defines"
check "escaping external data" 3 "$BIN" --input "$MODELS/bad/escaping_external/model.onnx" --output "$T/o.onnx"
expect_text escaping "leaves the model's folder"
check "output equals input" 2 "$BIN" --input "$MODELS/conv_bn.onnx" --output "$MODELS/conv_bn.onnx"

# A full run: the input is byte-identical afterwards, the report says what ran.
cp "$MODELS/constant_node_weights.onnx" "$T/in.onnx"
sum_before=$(sha256sum "$T/in.onnx" | cut -d' ' -f1)
check "full run" 0 "$BIN" --input "$T/in.onnx" --output "$T/out.onnx" --report "$T/r.json" \
  --pipeline "cleanup,statistics" --time-passes --verify-each --dump-ir-after dce
[ "$(sha256sum "$T/in.onnx" | cut -d' ' -f1)" = "$sum_before" ] || { echo "FAIL input was modified"; fails=$((fails+1)); }
expect_text "timing table" "constant-to-initializer"
/usr/bin/python3 - "$T/r.json" <<'PY' || fails=$((fails+1))
import json, sys
r = json.load(open(sys.argv[1]))
passes = [p["pass"] for p in r["passes"]]
assert passes[0] == "constant-to-initializer" and passes[-1] == "statistics", passes
assert r["passes"][0]["changes"] > 0, r["passes"][0]
assert r["pipeline"] == "cleanup,statistics"
assert r["output"]["onnx_checker"] == "passed"
assert r["input"]["nodes"] > r["output"]["nodes"], (r["input"], r["output"])
print("ok   report contents")
PY
ls "$T/out.onnx.dumps/"*after-dce.txt >/dev/null 2>&1 || { echo "FAIL no IR dump after dce"; fails=$((fails+1)); }
ls "$T"/out.onnx.tmp* >/dev/null 2>&1 && { echo "FAIL temporary file left behind"; fails=$((fails+1)); }

# Config files: accepted, and unknown fields refused with the line.
printf 'pipeline: "cleanup"\nverify_each: true\n' > "$T/good.cfg"
check "config file" 0 "$BIN" --input "$T/in.onnx" --output "$T/out2.onnx" --config "$T/good.cfg"
printf 'pipeline: "cleanup"\npipelin: "dce"\n' > "$T/bad.cfg"
check "config with unknown field" 3 "$BIN" --input "$T/in.onnx" --output "$T/out3.onnx" --config "$T/bad.cfg"
expect_text "config error names the line" "line 2"

# External data out.
check "external data threshold" 0 "$BIN" --input "$MODELS/conv_bn.onnx" --output "$T/ext.onnx" --external-data-threshold 16
[ -s "$T/ext.onnx.data" ] || { echo "FAIL no external data file"; fails=$((fails+1)); }

# ONNX's checker: on by default up to 50000 nodes, skipped (and said so)
# above, forced with always, refused when misspelt.
check "checker never" 0 "$BIN" --input "$MODELS/conv_bn.onnx" --output "$T/nc.onnx" --onnx-checker=never --check-samples 0
expect_text "checker never" "checked by our verifier only: ONNX's checker not run (--onnx-checker=never)"
check "checker misspelt" 2 "$BIN" --input "$MODELS/conv_bn.onnx" --output "$T/nc.onnx" --onnx-checker=sometimes
expect_text "checker misspelt" "--onnx-checker must be auto, always or never"
"$BENCH" --generate=60000 --real-weights --out="$T/big.onnx"
check "checker auto on 60k nodes" 0 "$BIN" --input "$T/big.onnx" --output "$T/big_out.onnx" --pipeline dce --check-samples 0
expect_text "checker auto on 60k nodes" "ONNX's checker not run: 60001 nodes > 50000 (--onnx-checker=always runs it)"
check "checker always on 60k nodes" 0 "$BIN" --input "$T/big.onnx" --output "$T/big_out.onnx" --pipeline dce --check-samples 0 --onnx-checker=always
expect_text "checker always on 60k nodes" "ONNX checker and strict type inference passed"

echo "compress_test: $fails failed"
[ "$fails" = 0 ]
