#!/usr/bin/env bash
# Runs every test: installs what is missing, generates test models
# (torchvision exports, a Fashion-MNIST CNN), runs the Bazel tests and the
# loader fuzzer, and prints "N passed, N failed" (test cases, not targets).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

bash tools/setup.sh || { echo "0 passed, 1 failed"; exit 1; }
bash testdata/generate.sh || { echo "0 passed, 1 failed"; exit 1; }

bazel test //... --keep_going \
  --test_env=ONNXC_TESTDATA="$ROOT/testdata/generated" \
  --test_env=ONNXC_ORT_DIR="$ROOT/testdata/ort" \
  --test_env=PATH="$PATH" "$@"
bazel_rc=$?

fuzz_failed=0
if [ -f tools/fuzz.sh ]; then
  FUZZ_SECONDS="${FUZZ_SECONDS:-60}" bash tools/fuzz.sh || fuzz_failed=1
fi

# Count test cases from the JUnit XML files Bazel writes; a target that did
# not build or crashed without XML counts as one failure.
# Only the test targets that exist now count (bazel-testlogs keeps results of
# targets since moved or deleted).
/usr/bin/python3 - "$(bazel info bazel-testlogs 2>/dev/null)" "$bazel_rc" "$fuzz_failed" \
  $(bazel query 'tests(//...)' 2>/dev/null) <<'PY'
import os, sys, xml.etree.ElementTree as ET
logs, bazel_rc, fuzz_failed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
labels = sys.argv[4:]
passed = failed = skipped = 0
if not labels:
    failed += 1
    print("FAILED: bazel query found no test targets")
for label in labels:
    path = os.path.join(logs, label.lstrip("/").replace(":", "/"), "test.xml")
    if not os.path.exists(path):
        failed += 1
        print("no result for", label)
        continue
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        failed += 1
        print("unreadable test result:", path)
        continue
    cases = root.iter("testcase")
    n = 0
    for c in cases:
        n += 1
        if c.find("failure") is not None or c.find("error") is not None:
            failed += 1
            print("FAILED:", c.get("classname"), c.get("name"))
        elif c.find("skipped") is not None or c.get("status") == "notrun":
            skipped += 1
        else:
            passed += 1
    if n == 0:
        failed += 1
        print("no test cases in", path)
if fuzz_failed:
    failed += 1
    print("FAILED: loader fuzzer")
else:
    passed += 1
if bazel_rc != 0 and failed == 0:
    failed += 1
    print("FAILED: bazel test exited with", bazel_rc)
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
PY
