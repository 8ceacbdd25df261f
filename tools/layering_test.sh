#!/usr/bin/env bash
# The folders depend on each other one way only:
#   ir <- kernels <- analysis <- passes <- tools
# and inside passes/, the infrastructure (passes/pass/) includes no family.
# Every #include "..." of the project's own headers is checked (testdata/
# holds test support any test may use).
set -uo pipefail
cd "$TEST_SRCDIR/onnxcompress" || exit 1
rank() {  # the layer a path belongs to
  case "$1" in
    ir/*) echo 0 ;; kernels/*) echo 1 ;; analysis/*) echo 2 ;; passes/*) echo 3 ;; tools/*) echo 4 ;;
    *) echo -1 ;;
  esac
}
fails=0 checked=0
while IFS= read -r f; do
  from=$(rank "$f")
  while IFS= read -r inc; do
    to=$(rank "$inc")
    [ "$to" -lt 0 ] && continue
    checked=$((checked+1))
    if [ "$to" -gt "$from" ]; then
      echo "FAIL $f includes $inc (a layer above it)"; fails=$((fails+1))
    fi
    case "$f" in
      passes/pass/*) case "$inc" in passes/*) [[ "$inc" == passes/pass/* ]] || { echo "FAIL $f (infrastructure) includes $inc (a family)"; fails=$((fails+1)); } ;; esac ;;
    esac
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done < <(find ir kernels analysis passes tools -name '*.h' -o -name '*.cc' | sort)
echo "layering_test: $checked includes checked, $fails violations"
[ "$checked" -gt 100 ] && [ "$fails" = 0 ]
