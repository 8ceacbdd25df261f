# Shared by the report scripts (decompose_report.sh, prune_report.sh,
# accurate_report.sh, smooth_quant_report.sh): sourced, not run, from the
# repository root.

# Sets GEN (testdata/generated), ORT (testdata/ort), OUT (OUT_DIR, else a new
# /tmp/NAME.XXXXXX) and BIN (bazel-bin, with tools/compress and tools/run built).
report_setup() {  # NAME [OUT_DIR]
  GEN=$PWD/testdata/generated ORT=$PWD/testdata/ort
  OUT=${2:-$(mktemp -d "/tmp/$1.XXXXXX")}
  mkdir -p "$OUT"
  bazel build -c opt //tools:compress //tools:run >/dev/null 2>&1
  BIN=$(bazel info -c opt bazel-bin 2>/dev/null)
}

# The heading line: date, CPU, cores, ONNX Runtime version.
report_heading() {  # TITLE
  echo "# $1 ($(date -u +%F), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, onnxruntime-node $(node -p "require('$ORT/node_modules/onnxruntime-node/package.json').version"))"
}

# Output 0 of two ONNX Runtime output folders (run.js): "SQNR X dB" (with --cosine also ", cos Y").
output_sqnr() {  # REF_DIR OUT_DIR [--cosine]
  /usr/bin/python3 - "$@" <<'PY'
import sys, glob, os, onnx, numpy as np
from onnx import numpy_helper
def load(d): return numpy_helper.to_array(onnx.load_tensor(sorted(glob.glob(os.path.join(d, 'output_*.pb')))[0])).astype(np.float64)
r, x = load(sys.argv[1]), load(sys.argv[2])
sqnr = 10 * np.log10((r ** 2).sum() / max(((r - x) ** 2).sum(), 1e-30))
if '--cosine' in sys.argv:
    print('%.1f dB, cos %.4f' % (sqnr, (r * x).sum() / np.sqrt((r * r).sum() * (x * x).sum())))
else:
    print('SQNR %.1f dB' % sqnr)
PY
}

# Accuracy of model file Q made from generated model M: top-1 on the 10k
# Fashion-MNIST test set for the Fashion-MNIST models, else output SQNR
# against the float model on M/test_data_set_1 (reference cached in OUT).
accuracy_of() {  # M Q OUT
  local m=$1 q=$2 out=$3
  case $m in
    fmnist*)
      node "$ORT/eval_fmnist.js" --data "$GEN/fmnist" "$q" |
        /usr/bin/python3 -c "import json,sys; print('top-1 %.4f' % json.loads(sys.stdin.readlines()[-1])['top1'])" ;;
    *)
      [ -d "$out/$m.ref" ] || node "$ORT/run.js" "$GEN/$m/model.onnx" "$GEN/$m/test_data_set_1" "$out/$m.ref" >/dev/null
      node "$ORT/run.js" "$q" "$GEN/$m/test_data_set_1" "$q.out" >/dev/null
      output_sqnr "$out/$m.ref" "$q.out" ;;
  esac
}

# "float_ms | ms | speedup" of Q against generated model M's original in one
# process at 1 thread (batch 64 for the Fashion-MNIST models: a 28x28 image
# alone takes microseconds).
latency_cells() {  # M Q
  local batch=1
  case $1 in fmnist*) batch=64 ;; esac
  node "$ORT/bench_compare.js" "$GEN/$1/model.onnx" "$2" --threads 1 --rounds 5 --batch $batch |
    /usr/bin/python3 -c "
import sys
kv = dict(t.split('=') for t in sys.stdin.read().split() if '=' in t)
print('%.2f | %.2f | %.2fx' % (float(kv['a_median_ms']), float(kv['b_median_ms']), float(kv['speedup'])))"
}

# The last pass named P's details.macs_after / macs_before in report J, as a percentage.
macs_kept() {  # J P
  /usr/bin/python3 -c "
import json; j=json.load(open('$1'))
d=[p['details'] for p in j['passes'] if p['pass']=='$2']
print('%.0f%%' % (100.0*d[-1]['macs_after']/d[-1]['macs_before']) if d else '100%')"
}
