#!/usr/bin/env bash
# Fuzzes the model loader (tools/fuzz_load.cc): ParseModel, then VerifyModel,
# ExportModel and the "cleanup" pipeline on whatever loads.
#
# Bazel's toolchain is gcc, so the fuzzer is built here with clang's
# libFuzzer + ASan + UBSan, outside Bazel.
#
#   bash tools/fuzz.sh [OUT_DIR]          (default OUT_DIR: /tmp/onnxc_fuzz)
#
# Environment:
#   FUZZ_SECONDS=60      how long to fuzz
#   FUZZ_JOBS=1          >1: libFuzzer fork mode with that many workers; it
#                        keeps going after a crash and collects every one
#   FUZZ_SEED_SAMPLE=300 how many ONNX conformance models seed the corpus
#   FUZZ_SAVE=1          also SaveModel + LoadModel each surviving model
#   FUZZ_PIPELINE=...    pipeline to run instead of "cleanup"
#   FUZZ_PREVERIFY=1     skip the pipeline for models with a node that fails
#                        its ONNX schema (OpSchema::Verify): what the
#                        shape-inference pass would need to do to stop feeding
#                        libonnx's inference functions nodes they crash on
#   FUZZ_FLAGS="..."     extra libFuzzer flags
#   CXX=clang++
#
# Prints "fuzz: N runs, 0 crashes" and exits 0, or prints each crashing
# input path and exits 1.
set -u -o pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-/tmp/onnxc_fuzz}"
CXX="${CXX:-clang++}"
SECONDS_TO_RUN="${FUZZ_SECONDS:-60}"
JOBS="${FUZZ_JOBS:-1}"
SAMPLE="${FUZZ_SEED_SAMPLE:-300}"
SUITE=/usr/share/libonnx-testdata/data/node

mkdir -p "$OUT"/obj "$OUT"/seeds "$OUT"/corpus "$OUT"/artifacts "$OUT"/modeldir "$OUT"/deep
OUT="$(cd "$OUT" && pwd)"
cd "$ROOT"

# ---- Build. Objects are reused when neither the source nor any header of
# the project changed since.
CXXFLAGS=(-std=c++17 -O1 -g -fno-omit-frame-pointer
          -fsanitize=fuzzer,address,undefined
          -DONNX_NAMESPACE=onnx -DONNX_ML=1 -DNOMINMAX -I. -isystem /usr/include/eigen3 -Wno-sign-compare)
ABSL_LIBS=(bad_optional_access bad_variant_access base city civil_time
  cord cord_internal cordz_functions cordz_handle cordz_info
  debugging_internal demangle_internal exponential_biased
  flags_commandlineflag flags_commandlineflag_internal flags_config
  flags_internal flags_marshalling flags_parse
  flags_private_handle_accessor flags_program_name flags_reflection
  flags_usage flags_usage_internal graphcycles_internal hash
  hashtablez_sampler int128 log_severity low_level_hash
  malloc_internal random_distributions random_internal_platform
  random_internal_pool_urbg random_internal_randen
  random_internal_randen_hwaes random_internal_randen_hwaes_impl
  random_internal_randen_slow random_internal_seed_material
  random_seed_gen_exception random_seed_sequences raw_hash_set
  raw_logging_internal spinlock_wait stacktrace status statusor
  str_format_internal strerror strings strings_internal symbolize
  synchronization throw_delegate time time_zone)
LDLIBS=(-lonnx -lonnx_proto -lprotobuf -lopenblas -lpthread)
for l in "${ABSL_LIBS[@]}"; do LDLIBS+=("-labsl_$l"); done
LDLIBS+=(-latomic -lrt)

# Sources: what the cleanup pipeline links (the transforms and shape
# inference, with ir/, kernels/ and analysis/ under them), asked from Bazel so
# packages the passes came to depend on are handled.
QUERY='kind("source file", deps(//passes/transforms) + deps(//passes/shape_inference))'
mapfile -t LISTED < <(timeout 600 bazel query "$QUERY" \
                        --output=label 2>/dev/null | grep '^//' | sed -E 's|^//([^:]*):|\1/|')
if ((${#LISTED[@]} == 0)); then
  echo "fuzz: bazel query failed" >&2
  exit 2
fi
# Protos (genrules in Bazel) are compiled with protoc into $OUT/gen.
mkdir -p "$OUT/gen"
CXXFLAGS+=(-I"$OUT/gen")
SOURCES=()
for f in "${LISTED[@]}"; do
  [[ -f "$f" ]] || continue
  case "$f" in
    *_test.cc|*_benchmark.cc|*_bench.cc|tools/fuzz_load.cc) ;;
    *.cc) SOURCES+=("$f") ;;
    *.proto)
      pbcc="$OUT/gen/${f%.proto}.pb.cc"
      if [[ ! -f "$pbcc" || "$f" -nt "$pbcc" ]]; then
        protoc --cpp_out="$OUT/gen" "$f" || { echo "fuzz: protoc failed on $f" >&2; exit 2; }
      fi
      SOURCES+=("$pbcc") ;;
  esac
done
SOURCES+=(tools/fuzz_load.cc)

newest_header="$(find ir kernels analysis passes -name '*.h' -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2)"
TO_BUILD=()
OBJS=()
for f in "${SOURCES[@]}"; do
  o="$OUT/obj/$(echo "${f#$OUT/gen/}" | tr / _).o"
  OBJS+=("$o")
  if [[ ! -f "$o" || "$f" -nt "$o" || "$newest_header" -nt "$o" || "$ROOT/tools/fuzz.sh" -nt "$o" ]]; then
    TO_BUILD+=("$f")
  fi
done
if ((${#TO_BUILD[@]})); then
  echo "fuzz: compiling ${#TO_BUILD[@]} files with $CXX" >&2
  export CXX OUT
  export CXXFLAGS_STR="${CXXFLAGS[*]}"
  if ! printf '%s\n' "${TO_BUILD[@]}" | xargs -P "$(nproc)" -I{} sh -c \
      'f="{}"; o="$OUT/obj/$(echo "${f#$OUT/gen/}" | tr / _).o"; $CXX $CXXFLAGS_STR -c "{}" -o "$o.tmp" && mv "$o.tmp" "$o"'; then
    echo "fuzz: compilation failed" >&2
    exit 2
  fi
fi
BIN="$OUT/fuzz_load"
if [[ ! -x "$BIN" ]] || [[ -n "$(find "${OBJS[@]}" -newer "$BIN" 2>/dev/null)" ]]; then
  "$CXX" "${CXXFLAGS[@]}" "${OBJS[@]}" "${LDLIBS[@]}" -o "$BIN" || { echo "fuzz: link failed" >&2; exit 2; }
fi

# ---- Seeds: our test models and a sample of the ONNX conformance suite.
rm -f "$OUT"/seeds/*
i=0
while IFS= read -r f; do
  cp "$f" "$OUT/seeds/local_$((i++))_$(basename "$f")"
done < <(find testdata/models -name '*.onnx' | sort)
if [[ -d "$SUITE" ]]; then
  ls "$SUITE"/*/model.onnx | shuf -n "$SAMPLE" --random-source=<(yes) |
    while IFS= read -r f; do cp "$f" "$OUT/seeds/$(basename "$(dirname "$f")").onnx"; done
fi
# External data resolves against modeldir; give it a weights file to find.
rm -rf "$OUT/modeldir"
mkdir -p "$OUT/modeldir"
cp testdata/models/external_data/weights.bin "$OUT/modeldir/weights.bin"
export ONNXC_FUZZ_MODEL_DIR="$OUT/modeldir"
[[ "${FUZZ_SAVE:-0}" == 1 ]] && export ONNXC_FUZZ_SAVE=1
[[ -n "${FUZZ_PIPELINE:-}" ]] && export ONNXC_FUZZ_PIPELINE="$FUZZ_PIPELINE"
[[ "${FUZZ_PREVERIFY:-0}" == 1 ]] && export ONNXC_FUZZ_PREVERIFY=1

# Dictionary: names the loader and the passes branch on.
cat > "$OUT/onnx.dict" <<'EOF'
"location"
"offset"
"length"
"checksum"
"weights.bin"
"../"
"/etc/passwd"
"Identity"
"Constant"
"If"
"Loop"
"Scan"
"Add"
"Relu"
"Conv"
"Reshape"
"ConvTranspose"
"Resize"
"Slice"
"Gather"
"Concat"
"Squeeze"
"Unsqueeze"
"Split"
"Expand"
"Tile"
"Pad"
"TopK"
"Range"
"MatMul"
"Gemm"
"MaxPool"
"Flatten"
"ReduceMean"
"kernel_shape"
"strides"
"pads"
"dilations"
"axes"
"axis"
"perm"
"auto_pad"
"SAME_UPPER"
"then_branch"
"else_branch"
"body"
"value"
"value_float"
"value_floats"
"value_int"
"value_ints"
"value_string"
"value_strings"
"sparse_value"
"ai.onnx"
"com.microsoft"
EOF

# ---- Structural stress inputs, run once each: deep subgraph nesting (just
# inside and far beyond protobuf's recursion limit of 100) and a long chain
# stored in reverse order (topological sort and DCE must not recurse per node).
if command -v protoc >/dev/null && command -v python3 >/dev/null; then
  rm -f "$OUT"/deep/*
  python3 - "$OUT/deep" <<'EOF'
import sys
out = sys.argv[1]
T = 'type { tensor_type { elem_type: 1 shape { dim { dim_value: 4 } } } }'
def nested(depth):
    # If nodes nested `depth` deep, each then-branch holding the next If.
    # Built inside out (no Python recursion).
    g = f'node {{ op_type: "Identity" input: "x" output: "y{depth}" }} name: "g{depth}" output {{ name: "y{depth}" {T} }}'
    for k in range(depth - 1, -1, -1):
        g = (f'node {{ op_type: "If" input: "c" output: "y{k}" '
             f'attribute {{ name: "then_branch" type: GRAPH g {{ {g} }} }} '
             f'attribute {{ name: "else_branch" type: GRAPH g {{ node {{ op_type: "Identity" input: "x" output: "e{k}" }} name: "e{k}" output {{ name: "e{k}" {T} }} }} }} }} '
             f'name: "g{k}" output {{ name: "y{k}" {T} }}')
        if k == 0:
            g += f' input {{ name: "x" {T} }} input {{ name: "c" type {{ tensor_type {{ elem_type: 9 shape {{ }} }} }} }}'
    return f'ir_version: 8 opset_import {{ domain: "" version: 13 }} graph {{ {g} }}'
def chain(n):
    # x -> Identity -> Relu -> Identity -> ... listed last node first.
    nodes = []
    for i in range(n):
        op = "Identity" if i % 2 == 0 else "Relu"
        nodes.append(f'node {{ op_type: "{op}" input: "{"x" if i == 0 else f"t{i-1}"}" output: "t{i}" }}')
    nodes.reverse()
    return (f'ir_version: 8 opset_import {{ domain: "" version: 13 }} graph {{ name: "chain" '
            + " ".join(nodes) + f' input {{ name: "x" {T} }} output {{ name: "t{n-1}" {T} }} }}')
for d in (10, 30, 32, 33, 40, 300):
    open(f'{out}/nested_{d}.txt', 'w').write(nested(d))
open(f'{out}/chain_200000.txt', 'w').write(chain(200000))
EOF
  for t in "$OUT"/deep/*.txt; do
    protoc --encode=onnx.ModelProto -I/usr/include onnx/onnx.proto < "$t" > "${t%.txt}.onnx" 2>/dev/null ||
      rm -f "${t%.txt}.onnx"
  done
  if ls "$OUT"/deep/*.onnx >/dev/null 2>&1; then
    if ! "$BIN" -rss_limit_mb=4096 -timeout=60 "$OUT"/deep/*.onnx > "$OUT/deep.log" 2>&1; then
      echo "fuzz: a structural stress input crashed (log: $OUT/deep.log):" >&2
      grep -E "Running: |ERROR|SUMMARY" "$OUT/deep.log" | tail -5 >&2
      echo "fuzz: crashing input: $(grep -o 'Running: .*' "$OUT/deep.log" | tail -1 | cut -d' ' -f2)"
      exit 1
    fi
  fi
fi

# ---- Fuzz.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
LOG="$OUT/fuzz.log"
ARGS=(-max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=4096 -timeout=10
      -artifact_prefix="$OUT/artifacts/" -dict="$OUT/onnx.dict" -print_final_stats=1)
if ((JOBS > 1)); then
  ARGS+=(-fork="$JOBS" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
fi
# shellcheck disable=SC2086
"$BIN" "${ARGS[@]}" ${FUZZ_FLAGS:-} "$OUT/corpus" "$OUT/seeds" > "$LOG" 2>&1
status=$?

runs="$(grep -oE '^Done [0-9]+ runs' "$LOG" | tail -1 | grep -oE '[0-9]+')"
[[ -z "$runs" ]] && runs="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$LOG" | tail -1 | grep -oE '[0-9]+$')"
[[ -z "$runs" ]] && runs="$(grep -oE '^#[0-9]+' "$LOG" | tail -1 | tr -d '#')"
runs="${runs:-0}"

mapfile -t crashes < <(grep -oE 'Test unit written to [^ ]+' "$LOG" | awk '{print $5}' | sort -u)
if ((${#crashes[@]} == 0)); then
  mapfile -t crashes < <(find "$OUT/artifacts" -type f -newer "$BIN" \( -name 'crash-*' -o -name 'leak-*' \
                           -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
fi
if ((${#crashes[@]} > 0)) || { ((status != 0)) && ((JOBS <= 1)); }; then
  echo "fuzz: $runs runs, ${#crashes[@]} crashes (log: $LOG)"
  grep -E '^==[0-9]+==ERROR|runtime error|^SUMMARY|fuzz_load: |deadly signal|ALARM' "$LOG" | head -20
  for c in "${crashes[@]}"; do echo "fuzz: crashing input: $c"; done
  exit 1
fi
echo "fuzz: $runs runs, 0 crashes"
