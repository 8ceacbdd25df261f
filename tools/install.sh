#!/usr/bin/env bash
# Installs onnxcompress under PREFIX:
#   bin/compress, bin/run
#   lib/libonnxcompress.so.1 (SONAME; .so links to it): IR, pass manager, passes, analyses, kernels, C API
#   include/onnxcompress/...   the headers; onnxcompress/onnxcompress.h (pass authors), onnxcompress/c_api.h
#   lib/cmake/onnxcompress/    onnxcompressConfig.cmake + version: find_package(onnxcompress REQUIRED)
#   lib/pkgconfig/onnxcompress.pc
#   lib/python3/dist-packages/onnxcompress/   the Python module (ctypes over the C API; Python 3.11, numpy optional)
#
#   bash tools/install.sh PREFIX                  builds with Bazel first
#   bash tools/install.sh PREFIX --prebuilt DIR   takes binaries and headers from DIR (a Bazel runfiles tree)
set -euo pipefail
PREFIX=${1:?usage: bash tools/install.sh PREFIX [--prebuilt DIR]}
VERSION=0.2.0
SRC=$(cd "$(dirname "$0")/.." && pwd)
if [ "${2:-}" = "--prebuilt" ]; then
  TREE=${3:?--prebuilt needs a folder}
  GENFILES=$TREE
else
  (cd "$SRC" && bazel build //tools:compress //tools:run //tools:libonnxcompress.so \
     //passes/quantization:quantization_config_proto_gen //analysis/calibration:calibration_stats_proto_gen \
     //tools:compress_config_proto_gen >/dev/null)
  TREE=$SRC
  GENFILES=$(cd "$SRC" && bazel info bazel-bin 2>/dev/null)
fi
BIN=$TREE/tools
[ -f "$BIN/libonnxcompress.so" ] || BIN=$GENFILES/tools
mkdir -p "$PREFIX"/{bin,lib/cmake/onnxcompress,lib/pkgconfig,include/onnxcompress,lib/python3/dist-packages}
PREFIX=$(cd "$PREFIX" && pwd)

install -m 755 "$BIN/compress" "$BIN/run" "$PREFIX/bin/"
install -m 755 "$BIN/libonnxcompress.so" "$PREFIX/lib/libonnxcompress.so.$VERSION"
ln -sf "libonnxcompress.so.$VERSION" "$PREFIX/lib/libonnxcompress.so.1"
ln -sf "libonnxcompress.so.1" "$PREFIX/lib/libonnxcompress.so"

# Headers keep their paths under include/onnxcompress (the project includes "ir/model.h").
INC=$PREFIX/include/onnxcompress
(cd "$TREE" && find ir kernels analysis passes -name '*.h' ! -name '*_test*' ! -name '*testutil*' -print0) |
  while IFS= read -r -d '' h; do install -D -m 644 "$TREE/$h" "$INC/$h"; done
for pb in passes/quantization/quantization_config.pb.h analysis/calibration/calibration_stats.pb.h tools/compress_config.pb.h; do
  install -D -m 644 "$GENFILES/$pb" "$INC/$pb"
done
install -D -m 644 "$SRC/tools/c_api.h" "$INC/tools/c_api.h"
ln -sf tools/c_api.h "$INC/c_api.h"
install -m 644 "$SRC/tools/install/onnxcompress.h" "$INC/onnxcompress.h"

cat > "$PREFIX/lib/cmake/onnxcompress/onnxcompressConfig.cmake" <<CMAKE
# onnxcompress $VERSION (installed by tools/install.sh).
#   onnxcompress::onnxcompress  the shared library and its headers (embedding, the C API)
#   onnxcompress::plugin        headers only: a pass plugin links nothing, its calls
#                               resolve against the process that loads it
get_filename_component(_onnxc_prefix "\${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
set(onnxcompress_VERSION $VERSION)
if(NOT TARGET onnxcompress::headers)
  add_library(onnxcompress::headers INTERFACE IMPORTED)
  set_target_properties(onnxcompress::headers PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "\${_onnxc_prefix}/include/onnxcompress;\${_onnxc_prefix}/include;/usr/include/eigen3"
    INTERFACE_COMPILE_DEFINITIONS "ONNX_NAMESPACE=onnx;ONNX_ML=1;NOMINMAX;EIGEN_MPL2_ONLY"
    # The library is built with -march=native: headers with Eigen types must agree on alignment.
    INTERFACE_COMPILE_OPTIONS "-march=native"
    INTERFACE_COMPILE_FEATURES cxx_std_17)
  add_library(onnxcompress::onnxcompress SHARED IMPORTED)
  set_target_properties(onnxcompress::onnxcompress PROPERTIES
    IMPORTED_LOCATION "\${_onnxc_prefix}/lib/libonnxcompress.so.1"
    IMPORTED_SONAME "libonnxcompress.so.1"
    INTERFACE_LINK_LIBRARIES onnxcompress::headers)
  add_library(onnxcompress::plugin INTERFACE IMPORTED)
  set_target_properties(onnxcompress::plugin PROPERTIES INTERFACE_LINK_LIBRARIES onnxcompress::headers)
endif()
CMAKE
cat > "$PREFIX/lib/cmake/onnxcompress/onnxcompressConfigVersion.cmake" <<CMAKE
set(PACKAGE_VERSION $VERSION)
if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION OR NOT PACKAGE_FIND_VERSION_MAJOR EQUAL 0)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
CMAKE
cat > "$PREFIX/lib/pkgconfig/onnxcompress.pc" <<PC
prefix=$PREFIX
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: onnxcompress
Description: ONNX model compression: IR, pass manager, passes, kernels, C API
Version: $VERSION
Libs: -L\${libdir} -lonnxcompress -Wl,-rpath,\${libdir}
Cflags: -I\${includedir} -I\${includedir}/onnxcompress -I/usr/include/eigen3 -DONNX_NAMESPACE=onnx -DONNX_ML=1 -DEIGEN_MPL2_ONLY
PC
install -D -m 644 "$SRC/tools/install/python/onnxcompress/__init__.py" \
  "$PREFIX/lib/python3/dist-packages/onnxcompress/__init__.py"
echo "installed onnxcompress $VERSION under $PREFIX"
