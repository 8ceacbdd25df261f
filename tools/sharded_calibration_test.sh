#!/usr/bin/env bash
# Sharded calibration from the command line gives exactly what one run gives:
# shard 0/2 and 1/2 in two processes each save their statistics, a third run
# merges them and quantizes, and the quantization record and the model are
# byte-identical to one unsharded run. The same with the shards taken from an
# MPI job (mpirun -np 2 on localhost, --calib-shard auto) and from a Slurm job
# array (its environment variables set by hand).
set -uo pipefail
BIN="$TEST_SRCDIR/onnxcompress/tools/compress"
M="$TEST_SRCDIR/onnxcompress/testdata/models/fmnist_cnn"
T="$TEST_TMPDIR"
cd "$T" || exit 1
fails=0
run() {  # run NAME COMMAND...
  local name=$1; shift
  if ! "$@" >"$T/$name.log" 2>&1; then
    echo "FAIL $name: exit $?"; sed 's/^/    /' "$T/$name.log" | tail -20; fails=$((fails+1))
  else
    echo "ok   $name"
  fi
}
same() {  # same NAME A B
  if cmp -s "$2" "$3"; then echo "ok   $1"; else echo "FAIL $1: $2 and $3 differ"; diff "$2" "$3" | head -10; fails=$((fails+1)); fi
}

# The bundled 32 calibration images as one .npy, cut into 4 batches of 8.
/usr/bin/python3 - "$M/calib/test_data_set_0/input_0.pb" calib.npy <<'PY' || exit 1
import sys, numpy as np
from onnx import TensorProto, numpy_helper
t = TensorProto(); t.ParseFromString(open(sys.argv[1], "rb").read())
np.save(sys.argv[2], numpy_helper.to_array(t))
PY
COMMON=(--input "$M/model.onnx" --calib-data calib.npy --calib-batch 8)

run unsharded "$BIN" "${COMMON[@]}" --output full.onnx --check-samples 0
run shard0 "$BIN" "${COMMON[@]}" --calib-shard 0/2 --calib-stats-out s0.pb
run shard1 "$BIN" "${COMMON[@]}" --calib-shard 1/2 --calib-stats-out s1.pbtxt
grep -q "shard 1/2" shard1.log || { echo "FAIL shard run does not say which shard"; fails=$((fails+1)); }
run merge "$BIN" --input "$M/model.onnx" --output merged.onnx --calib-stats-in s0.pb,s1.pbtxt --check-samples 0
same "merged record = unsharded record" full.onnx.quant_record.pbtxt merged.onnx.quant_record.pbtxt
same "merged model = unsharded model" full.onnx merged.onnx

# MPI: the shard comes from the rank and size of the job.
if ! command -v mpirun >/dev/null; then
  echo "FAIL mpirun not found (tools/setup.sh installs openmpi-bin)"; fails=$((fails+1))
else
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm_rsh_agent=false
  run mpirun mpirun --oversubscribe -np 2 "$BIN" "${COMMON[@]}" --calib-shard auto --calib-stats-out 'mpi.{shard}.pb'
  run mpi_merge "$BIN" --input "$M/model.onnx" --output mpi.onnx --calib-stats-in mpi.0.pb,mpi.1.pb --check-samples 0
  same "MPI record = unsharded record" full.onnx.quant_record.pbtxt mpi.onnx.quant_record.pbtxt
fi

# Slurm job array (tasks 3 and 4 of --array=3-4).
for id in 3 4; do
  run "slurm_task$id" env SLURM_ARRAY_TASK_ID=$id SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_MIN=3 \
    "$BIN" "${COMMON[@]}" --calib-shard auto --calib-stats-out 'slurm.{shard}.pb'
done
run slurm_merge "$BIN" --input "$M/model.onnx" --output slurm.onnx --calib-stats-in slurm.0.pb,slurm.1.pb --check-samples 0
same "Slurm record = unsharded record" full.onnx.quant_record.pbtxt slurm.onnx.quant_record.pbtxt

# Outside any job, auto is an error that says what it looked for.
env -u OMPI_COMM_WORLD_RANK -u PMI_RANK -u SLURM_ARRAY_TASK_ID "$BIN" "${COMMON[@]}" --calib-shard auto >auto.log 2>&1
rc=$?
if [ "$rc" != 2 ] || ! grep -q "not inside an MPI job" auto.log; then
  echo "FAIL --calib-shard auto outside a job: exit $rc"; cat auto.log; fails=$((fails+1))
else
  echo "ok   auto outside a job is refused"
fi

echo "sharded_calibration_test: $fails failed"
[ "$fails" = 0 ]
