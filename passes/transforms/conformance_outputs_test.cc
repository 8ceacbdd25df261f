// Issue 4's proof on the ONNX conformance suite: after `optimize` (cleanup,
// constant folding, fusions, CSE), every conformance model the kernels can run
// still produces the suite's expected outputs, at the suite's tolerance.
#include <filesystem>

#include "gtest/gtest.h"
#include "ir/import.h"
#include "ir/tensor_io.h"
#include "ir/verifier.h"
#include "kernels/executor.h"
#include "passes/pass/pass_manager.h"

namespace onnxc {
namespace {

namespace fs = std::filesystem;

// ONNX's backend tests: |x - ref| <= atol + rtol * |ref|.
bool Close(const Tensor& ref, const Tensor& x, std::string* why) {
  if (ref.dims() != x.dims()) {
    *why = "shape differs";
    return false;
  }
  if (ref.type() == onnx::TensorProto::STRING) return ref.strings() == x.strings();
  std::vector<float> a = ref.ToFloatVector(), b = x.ToFloatVector();
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    if (std::isinf(a[i]) && a[i] == b[i]) continue;
    if (!(std::fabs(a[i] - b[i]) <= 1e-5 + 1e-3 * std::fabs(a[i]))) {
      *why = "element " + std::to_string(i) + ": " + std::to_string(b[i]) + " vs " + std::to_string(a[i]);
      return false;
    }
  }
  return true;
}

// Runs `model` on every test_data_set_* next to `path` and compares with the
// expected outputs. Returns kNotRunnable when the kernels cannot build it
// and kNonTensor for sequence/optional data.
enum class Outcome { kPass, kFail, kNotRunnable, kNonTensor };
Outcome RunConformanceCase(const Model& model, const fs::path& path) {
  auto ex = Executor::Create(model, {});
  if (!ex.ok()) return Outcome::kNotRunnable;
  bool ok = true;
  for (const auto& set : fs::directory_iterator(path.parent_path())) {
    if (set.path().filename().string().rfind("test_data_set_", 0) != 0) continue;
    auto inputs = ReadTensorPbSeries(set.path().string(), "input");
    auto expected = ReadTensorPbSeries(set.path().string(), "output");
    if (!inputs.ok() || !expected.ok()) return Outcome::kNonTensor;
    std::vector<std::pair<std::string, Tensor>> feed;
    size_t k = 0;
    for (const Value* in : model.graph().inputs()) {
      if (in->has_initializer() || k >= inputs->size()) continue;
      feed.emplace_back(in->name(), (*inputs)[k++].tensor);
    }
    auto out = (*ex)->Run(feed);
    if (!out.ok() || out->size() != expected->size()) {
      ADD_FAILURE() << path << ": " << (out.ok() ? "output count differs" : out.status().ToString());
      return Outcome::kFail;
    }
    for (size_t i = 0; i < out->size(); ++i) {
      std::string why;
      if (!Close((*expected)[i].tensor, (*out)[i], &why)) {
        ok = false;
        ADD_FAILURE() << path << " output " << i << ": " << why;
      }
    }
  }
  return ok ? Outcome::kPass : Outcome::kFail;
}

TEST(ConformanceAfterOptimize, OutputsStayWithinTolerance) {
  int cases = 0, runnable = 0, passed = 0, changed = 0, non_tensor = 0;
  for (const auto& e : fs::recursive_directory_iterator("/usr/share/libonnx-testdata/data")) {
    if (e.path().filename() != "model.onnx") continue;
    ++cases;
    auto model = LoadModel(e.path().string());
    ASSERT_TRUE(model.ok());
    int opset = static_cast<int>((*model)->OpsetVersion(""));
    if (!UnsupportedOps((*model)->graph(), opset).empty()) continue;
    auto pm = PassManager::Create("optimize");
    ASSERT_TRUE(pm.ok());
    absl::Status s = (*pm)->Run(**model, {});
    ASSERT_TRUE(s.ok()) << e.path() << ": " << s;
    ASSERT_TRUE(VerifyModel(**model).ok()) << e.path();
    for (const auto& r : (*pm)->records()) changed += r.pass != "shape-inference" && r.changes > 0;
    Outcome o = RunConformanceCase(**model, e.path());
    if (o == Outcome::kNotRunnable) continue;  // rewriting never makes a runnable model unrunnable: counted below
    ++runnable;
    if (o == Outcome::kNonTensor) ++non_tensor;
    if (o == Outcome::kNonTensor) --runnable;
    else passed += o == Outcome::kPass;
  }
  std::printf("optimize on the conformance suite: %d cases, %d runnable by the kernels with tensor data, %d "
              "pass after optimize, %d rewritten, %d with sequence data skipped\n",
              cases, runnable, passed, changed, non_tensor);
  EXPECT_EQ(cases, 1072);
  EXPECT_GE(runnable, 750);  // the kernels run 760 of the suite's cases
  EXPECT_EQ(passed, runnable);
  EXPECT_GT(changed, 100);
}

// Issue 10's proof for upgrade-opset: every conformance model at opset 7-9
// that ONNX's converter takes to 13 still gives the suite's expected outputs.
TEST(ConformanceAfterUpgrade, Opset7To9ModelsKeepTheirOutputsAtOpset13) {
  int cases = 0, upgraded = 0, runnable = 0, passed = 0;
  std::vector<std::string> refused;
  for (const auto& e : fs::recursive_directory_iterator("/usr/share/libonnx-testdata/data")) {
    if (e.path().filename() != "model.onnx") continue;
    auto model = LoadModel(e.path().string());
    ASSERT_TRUE(model.ok());
    const int64_t opset = (*model)->OpsetVersion("");
    if (opset < 7 || opset > 9) continue;
    ++cases;
    auto pm = PassManager::Create("upgrade-opset{to=13}");
    ASSERT_TRUE(pm.ok());
    absl::Status s = (*pm)->Run(**model, {});
    if (!s.ok()) {
      refused.push_back(e.path().parent_path().filename().string() + ": " + std::string(s.message()).substr(0, 120));
      continue;
    }
    ++upgraded;
    ASSERT_EQ((*model)->OpsetVersion(""), 13) << e.path();
    ASSERT_TRUE(VerifyModel(**model).ok()) << e.path();
    Outcome o = RunConformanceCase(**model, e.path());
    if (o == Outcome::kNotRunnable || o == Outcome::kNonTensor) continue;
    ++runnable;
    passed += o == Outcome::kPass;
  }
  std::printf("upgrade-opset to 13 on the conformance suite: %d cases at opset 7-9, %d upgraded, %d runnable by the "
              "kernels, %d give the expected outputs; the converter refused %zu:\n",
              cases, upgraded, runnable, passed, refused.size());
  for (const auto& r : refused) std::printf("  %s\n", r.c_str());
  EXPECT_EQ(cases, 71);  // ONNX 1.12's suite
  EXPECT_GE(upgraded, cases * 9 / 10);
  EXPECT_EQ(passed, runnable);
  EXPECT_GE(runnable, upgraded * 8 / 10);
}

}  // namespace
}  // namespace onnxc
