#include "testdata/ort_runner.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"

namespace onnxc {

namespace fs = std::filesystem;

std::string OrtDir() {
  const char* d = std::getenv("ONNXC_ORT_DIR");
  return d ? d : "";
}

std::string GeneratedTestdataDir() {
  const char* d = std::getenv("ONNXC_TESTDATA");
  return d ? d : "";
}

Tensor RandomTensor(std::vector<int64_t> dims, float lo, float hi, int seed) {
  Tensor t(onnx::TensorProto::FLOAT, std::move(dims));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  float* d = t.mutable_data<float>();
  for (int64_t i = 0; i < t.num_elements(); ++i) d[i] = u(rng);
  return t;
}

absl::StatusOr<std::vector<NamedTensor>> RunWithOrt(const std::string& model_path,
                                                    const std::vector<NamedTensor>& inputs) {
  std::string ort = OrtDir();
  if (ort.empty()) return absl::FailedPreconditionError("ONNXC_ORT_DIR is not set");
  const char* tmp_env = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp_env ? tmp_env : "/tmp", "/ort-XXXXXX");
  if (::mkdtemp(dir.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  fs::create_directories(dir + "/in");
  for (size_t i = 0; i < inputs.size(); ++i) {
    absl::Status s = WriteTensorPb(absl::StrCat(dir, "/in/input_", i, ".pb"), inputs[i].tensor, inputs[i].name);
    if (!s.ok()) return s;
  }
  std::string cmd = absl::StrCat("node '", ort, "/run.js' '", model_path, "' '", dir, "/in' '", dir,
                                 "/out' --threads 1 > '", dir, "/log' 2>&1");
  int rc = std::system(cmd.c_str());
  if (rc != 0) {
    std::string log;
    if (FILE* f = std::fopen((dir + "/log").c_str(), "r")) {
      char buf[4096];
      size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
      log.assign(buf, n);
      std::fclose(f);
    }
    return absl::InternalError(absl::StrCat("onnxruntime-node failed on ", model_path, ": ", log));
  }
  auto outputs = ReadTensorPbSeries(dir + "/out", "output");
  fs::remove_all(dir);
  return outputs;
}

}  // namespace onnxc
