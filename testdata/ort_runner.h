// Runs a model in ONNX Runtime (onnxruntime-node, the reference runtime) from
// C++ tests, through testdata/ort/run.js. The runtime's folder comes from the
// ONNXC_ORT_DIR environment variable (tools/test.sh sets it).
#ifndef ONNXC_TESTDATA_ORT_RUNNER_H_
#define ONNXC_TESTDATA_ORT_RUNNER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/tensor_io.h"

namespace onnxc {

// "" when ONNXC_ORT_DIR is not set.
std::string OrtDir();
// Folder of generated test models (ONNXC_TESTDATA), "" when not set.
std::string GeneratedTestdataDir();

// A float tensor of uniform random values in [lo, hi), reproducible by seed.
Tensor RandomTensor(std::vector<int64_t> dims, float lo, float hi, int seed);

struct OrtOptions {
  std::string opt = "all";  // graph optimisation level: all (ORT's default) | basic | disabled
  int threads = 1;
  // Run ONNX Runtime as it runs on an x86 CPU with AVX2 and no VNNI, whatever
  // this machine is: node under qemu-x86_64 -cpu Haswell-noTSX (Debian
  // qemu-user), so ORT's kernels add u8 x s8 pairs in saturating int16.
  bool emulate_avx2 = false;
};

// Runs `model_path` on `inputs` (named by graph input) and returns its outputs
// in graph order.
absl::StatusOr<std::vector<NamedTensor>> RunWithOrt(const std::string& model_path,
                                                    const std::vector<NamedTensor>& inputs,
                                                    const OrtOptions& options = {});

// Every value of the main graph as ONNX Runtime computes it (each node
// output made a graph output), by name.
absl::StatusOr<std::map<std::string, Tensor>> RunWithOrtAllValues(const std::string& model_path,
                                                                  const std::vector<NamedTensor>& inputs,
                                                                  const OrtOptions& options = {});

// Whether qemu-x86_64 is installed (for OrtOptions::emulate_avx2).
bool CanEmulateAvx2();

// The command that starts node for ONNX Runtime: "node", or node under qemu
// as on an AVX2 CPU without VNNI when asked, or for every run when
// ONNXC_ORT_EMULATE_AVX2=1 (runs the whole test suite as on such a machine).
std::string OrtNodeCommand(bool emulate_avx2 = false);

}  // namespace onnxc

#endif  // ONNXC_TESTDATA_ORT_RUNNER_H_
