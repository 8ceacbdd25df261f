#!/usr/bin/env bash
# Installs the Debian packages the project needs, idempotently (fast when
# everything is there). npm packages come with testdata/generate.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # build: Bazel 4.2.3 with its offline rule repositories, compilers
  bazel-bootstrap bazel-bootstrap-source g++ clang libclang-rt-14-dev
  # libraries: ONNX 1.12, protobuf, Abseil, tests and benchmarks, BLAS, JSON
  libonnx-dev protobuf-compiler libprotobuf-dev libabsl-dev libgtest-dev
  libbenchmark-dev libopenblas-dev libeigen3-dev nlohmann-json3-dev zlib1g-dev libdnnl-dev
  # sharded calibration under MPI (mpirun, tested on localhost)
  openmpi-bin
  # the installed package's consumers (tools/install_test.sh): CMake, pkg-config, objdump
  cmake pkg-config binutils
  # ONNX Runtime as on an x86 CPU without VNNI, on any machine (qemu-x86_64
  # -cpu Haswell-noTSX): tests the int16-pair emulation against the real thing
  qemu-user
  # test data: ONNX conformance suite, exporters, a real data set
  libonnx-testdata python3-torch python3-torchvision python3-onnx python3-numpy
  dataset-fashion-mnist
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm for the reference runtime (onnxruntime-node): only when the
# commands are missing, since a NodeSource nodejs bundles npm and conflicts
# with Debian's npm package.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "setup: ok (npm packages are installed by testdata/generate.sh)"
