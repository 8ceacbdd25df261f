#!/usr/bin/env bash
# Installs into a temporary prefix (tools/install.sh --prebuilt, from this
# test's runfiles), then as a user of the installed package:
#  (a) builds the README's plugin with CMake out of tree, loads it into
#      compress, lists it and runs it in a pipeline; bad plugins get errors;
#  (b) builds and runs a C program against the C API (pkg-config);
#  (c) runs a Python script on the onnxcompress module.
set -euo pipefail
R=${TEST_SRCDIR:-$PWD/..}/onnxcompress
T=${TEST_TMPDIR:-$(mktemp -d)}
PREFIX=$T/prefix
MODEL=$R/testdata/models/fmnist_cnn/model.onnx
CALIB=$R/testdata/models/fmnist_cnn/calib
rm -rf "$PREFIX" "$T/plugin_src" "$T/plugin_build" "$T/py"
bash "$R/tools/install.sh" "$PREFIX" --prebuilt "$R"
for f in bin/compress bin/run lib/libonnxcompress.so.1 include/onnxcompress/onnxcompress.h \
         include/onnxcompress/c_api.h lib/cmake/onnxcompress/onnxcompressConfig.cmake lib/pkgconfig/onnxcompress.pc; do
  [ -e "$PREFIX/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
objdump -p "$PREFIX/lib/libonnxcompress.so.1" > "$T/objdump.txt"
grep -q "SONAME *libonnxcompress.so.1" "$T/objdump.txt" || { echo "FAIL: no SONAME"; exit 1; }

echo "== (a) plugin, CMake out of tree"
cp -r "$R/tools/install/example_plugin" "$T/plugin_src"
cmake -S "$T/plugin_src" -B "$T/plugin_build" -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$T/plugin_build" >/dev/null
PLUGIN=$T/plugin_build/libmy_pass.so
"$PREFIX/bin/compress" --load-pass-plugin="$PLUGIN" --list-passes > "$T/list.txt"
grep -q "my-pass" "$T/list.txt" || { echo "FAIL: my-pass not listed"; exit 1; }
"$PREFIX/bin/compress" --load-pass-plugin "$PLUGIN" --input "$MODEL" --output "$T/counted.onnx" \
  --pipeline 'cleanup,my-pass{op=Relu}' --report "$T/counted.json" > "$T/counted.log" 2>&1
/usr/bin/python3 - "$T/counted.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
p = [p for p in j["passes"] if p["pass"] == "my-pass"][0]
assert p["details"]["count"] == 3, p  # the example CNN has 3 Relu
print("my-pass ran in the pipeline: %d Relu nodes" % p["details"]["count"])
PY
# A typo in its option is refused like a built-in pass's.
if "$PREFIX/bin/compress" --load-pass-plugin="$PLUGIN" --input "$MODEL" --output "$T/x.onnx" --pipeline 'my-pass{opp=Relu}' > "$T/typo.log" 2>&1; then
  echo "FAIL: a wrong option was accepted"; exit 1; fi
grep -q "opp" "$T/typo.log"
# Bad plugins: not a library, no entry point, another API version; each named, none a crash.
echo "not a library" > "$T/junk.so"
printf 'int unrelated(void) { return 1; }\n' > "$T/noentry.c"
cc -shared -fPIC -o "$T/noentry.so" "$T/noentry.c"
cat > "$T/oldapi.cc" <<'CC'
#include <onnxcompress/onnxcompress.h>
void Nothing(onnxc::PassRegistry&) {}
extern "C" const onnxc::PassPluginInfo* onnxc_pass_plugin_info() {
  static const onnxc::PassPluginInfo info{ONNXC_PASS_PLUGIN_API_VERSION + 1, "old", "0", Nothing};
  return &info;
}
CC
c++ -std=c++17 -shared -fPIC $(pkg-config --cflags "$PREFIX/lib/pkgconfig/onnxcompress.pc") -march=native \
  -o "$T/oldapi.so" "$T/oldapi.cc"
for bad in junk.so:"cannot load" noentry.so:"no entry point" oldapi.so:"plugin API version" missing.so:"cannot load"; do
  f=${bad%%:*} want=${bad#*:}
  set +e
  "$PREFIX/bin/compress" --load-pass-plugin="$T/$f" --list-passes > "$T/bad.log" 2>&1
  rc=$?
  set -e
  [ $rc -ne 0 ] && [ $rc -lt 128 ] || { echo "FAIL: $f: exit $rc"; exit 1; }
  grep -q "$T/$f" "$T/bad.log" && grep -q "$want" "$T/bad.log" || { echo "FAIL: $f: $(cat "$T/bad.log")"; exit 1; }
  echo "bad plugin $f refused: $(head -c 150 "$T/bad.log")"
done

echo "== (b) C program on the C API"
cc -o "$T/c_example" "$R/tools/install/c_example.c" $(pkg-config --cflags --libs "$PREFIX/lib/pkgconfig/onnxcompress.pc")
"$T/c_example" "$MODEL" "$CALIB" "$T/c_int8.onnx" | tee "$T/c.log"
grep -q "quantize ran: yes" "$T/c.log" && grep -q "has QuantizeLinear" "$T/c.log" && grep -q "nonexistent/model.onnx" "$T/c.log"
# An embedding program that may not fork: subprocesses=off.
cc -o "$T/c_no_fork" "$R/tools/install/c_no_fork_test.c" -lpthread \
  $(pkg-config --cflags --libs "$PREFIX/lib/pkgconfig/onnxcompress.pc")
"$T/c_no_fork" "$MODEL" "$CALIB" "$T/c_nofork.onnx"

echo "== (c) Python"
mkdir -p "$T/py"
PYTHONPATH="$PREFIX/lib/python3/dist-packages" /usr/bin/python3 "$R/tools/install/python_example.py" "$MODEL" "$CALIB" "$T/py" "$PLUGIN"
echo "install test passed"
