#include "testdata/ort_runner.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "ir/export.h"
#include "ir/import.h"

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

std::string OrtNodeCommand(bool emulate_avx2) {
  const char* all = std::getenv("ONNXC_ORT_EMULATE_AVX2");
  if (emulate_avx2 || (all != nullptr && std::string(all) == "1"))
    // qemu needs node's full path; it prints warnings about features TCG lacks.
    return "qemu-x86_64 -cpu Haswell-noTSX \"$(command -v node)\"";
  return "node";
}

bool CanEmulateAvx2() { return std::system("command -v qemu-x86_64 >/dev/null 2>&1") == 0; }

absl::StatusOr<std::vector<NamedTensor>> RunWithOrt(const std::string& model_path,
                                                    const std::vector<NamedTensor>& inputs,
                                                    const OrtOptions& options) {
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
  std::string cmd = absl::StrCat(OrtNodeCommand(options.emulate_avx2), " '", ort, "/run.js' '", model_path, "' '", dir, "/in' '", dir, "/out' --threads ",
                                 options.threads, " --opt ", options.opt, " > '", dir, "/log' 2>&1");
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

absl::StatusOr<std::map<std::string, Tensor>> RunWithOrtAllValues(const std::string& model_path,
                                                                  const std::vector<NamedTensor>& inputs,
                                                                  const OrtOptions& options) {
  auto model = LoadModel(model_path);
  if (!model.ok()) return model.status();
  Graph& g = (*model)->graph();
  std::set<const Value*> outs(g.outputs().begin(), g.outputs().end());
  for (const auto& n : g.nodes())
    for (Value* v : n->outputs())
      if (v != nullptr && !outs.count(v)) {
        g.AddOutput(v);
        outs.insert(v);
      }
  const char* tmp_env = std::getenv("TEST_TMPDIR");
  std::string path = absl::StrCat(tmp_env ? tmp_env : "/tmp", "/all_values_", ::getpid(), ".onnx");
  absl::Status saved = SaveModel(**model, path);
  if (!saved.ok()) return saved;
  auto values = RunWithOrt(path, inputs, options);
  fs::remove(path);
  if (!values.ok()) return values.status();
  std::map<std::string, Tensor> by_name;
  for (size_t i = 0; i < values->size() && i < g.outputs().size(); ++i)
    by_name.emplace(g.outputs()[i]->name(), std::move((*values)[i].tensor));
  return by_name;
}

}  // namespace onnxc
