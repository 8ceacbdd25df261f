// Runs every case of Debian's libonnx-testdata whose ops the executor
// supports and compares with the reference outputs at ONNX's tolerances
// (rtol 1e-3, atol 1e-7, as onnx's backend tests use). The number of passing
// cases is asserted, and no supported case may fail.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "ir/import.h"
#include "kernels/executor.h"
#include "kernels/testutil.h"

namespace onnxc {
namespace kernels {
namespace {

constexpr char kRoot[] = "/usr/share/libonnx-testdata/data";
// Update when kernels are added (the test prints the new numbers).
constexpr int kExpectedSupported = 782;
constexpr int kExpectedPassed = 782;

std::vector<std::string> ListDirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    struct stat st;
    if (stat((dir + "/" + n).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

struct Outcome {
  bool supported = false;
  bool passed = false;
  std::string reason;
  std::vector<std::string> unsupported_ops;
};

Outcome RunCase(const std::string& dir, double rtol, double atol) {
  Outcome r;
  auto model = LoadModel(dir + "/model.onnx");
  if (!model.ok()) {
    r.unsupported_ops.push_back("<model does not load: " + std::string(model.status().message().substr(0, 80)) + ">");
    return r;
  }
  int opset = static_cast<int>((*model)->OpsetVersion(""));
  std::set<std::string> bad;
  (*model)->graph().ForEachGraph([&](Graph* g) {
    for (const auto& n : g->nodes())
      if (!IsSupported(*n, opset)) bad.insert(n->domain().empty() ? n->op_type() : n->domain() + "." + n->op_type());
  });
  if (!bad.empty()) {
    r.unsupported_ops.assign(bad.begin(), bad.end());
    return r;
  }
  std::vector<std::string> sets;
  for (const std::string& s : ListDirs(dir))
    if (s.rfind("test_data_set_", 0) == 0) sets.push_back(s);
  // Inputs that are not tensors (sequences, optionals) are unsupported.
  for (const std::string& s : sets) {
    for (const std::string& f : NumberedFiles(dir + "/" + s, "input_", ".pb")) {
      auto t = ReadTensorPb(f);
      if (!t.ok() || t->type() == onnx::TensorProto::STRING) {
        r.unsupported_ops.push_back("<non-tensor or string input>");
        return r;
      }
    }
    for (const std::string& f : NumberedFiles(dir + "/" + s, "output_", ".pb")) {
      auto t = ReadTensorPb(f);
      if (!t.ok() || t->type() == onnx::TensorProto::STRING) {
        r.unsupported_ops.push_back("<non-tensor or string output>");
        return r;
      }
    }
  }
  r.supported = true;
  ExecutorOptions opts;
  opts.threads = 2;
  opts.opset = opset;
  auto ex = Executor::Create((*model)->graph(), opts);
  if (!ex.ok()) {
    r.reason = std::string(ex.status().message());
    return r;
  }
  for (const std::string& s : sets) {
    std::string sd = dir + "/" + s;
    auto inputs = LoadInputs((*model)->graph(), sd);
    if (!inputs.ok()) {
      r.reason = absl::StrCat(s, ": ", inputs.status().message());
      return r;
    }
    auto outs = (*ex)->Run(*inputs);
    if (!outs.ok()) {
      r.reason = absl::StrCat(s, ": ", outs.status().message());
      return r;
    }
    std::vector<std::string> files = NumberedFiles(sd, "output_", ".pb");
    if (files.size() != outs->size()) {
      r.reason = absl::StrCat(s, ": ", outs->size(), " outputs, expected ", files.size());
      return r;
    }
    for (size_t i = 0; i < files.size(); ++i) {
      auto want = ReadTensorPb(files[i]);
      std::string diff = CompareTensors(*want, (*outs)[i], rtol, atol);
      if (!diff.empty()) {
        r.reason = absl::StrCat(s, " output ", i, ": ", diff);
        return r;
      }
    }
  }
  r.passed = true;
  return r;
}

TEST(Conformance, LibonnxTestdata) {
  struct stat st;
  ASSERT_EQ(stat(kRoot, &st), 0) << kRoot << " is missing: apt-get install libonnx-testdata";
  int total = 0, supported = 0, passed = 0;
  std::map<std::string, int> skipped_by_op;
  std::vector<std::string> failures;
  for (const char* suite : {"node", "pytorch-converted", "pytorch-operator", "simple"}) {
    std::string sdir = absl::StrCat(kRoot, "/", suite);
    for (const std::string& c : ListDirs(sdir)) {
      std::string dir = sdir + "/" + c;
      if (stat((dir + "/model.onnx").c_str(), &st) != 0) continue;
      ++total;
      Outcome o = RunCase(dir, 1e-3, 1e-7);
      if (!o.supported) {
        for (const std::string& op : o.unsupported_ops) ++skipped_by_op[op];
        continue;
      }
      ++supported;
      if (o.passed) {
        ++passed;
      } else {
        failures.push_back(absl::StrCat(suite, "/", c, ": ", o.reason));
      }
    }
  }
  std::printf("conformance: total %d, supported %d, passed %d, failed %zu, skipped-unsupported %d\n",
              total, supported, passed, failures.size(), total - supported);
  std::vector<std::pair<int, std::string>> by_count;
  for (auto& [op, n] : skipped_by_op) by_count.emplace_back(-n, op);
  std::sort(by_count.begin(), by_count.end());
  std::printf("skipped cases by unsupported op (a case may list several ops):\n");
  for (auto& [n, op] : by_count) std::printf("  %-40s %d\n", op.c_str(), -n);
  for (const std::string& f : failures) std::printf("FAILED %s\n", f.c_str());
  EXPECT_TRUE(failures.empty()) << failures.size() << " supported cases failed:\n"
                                << absl::StrJoin(failures, "\n");
  if (kExpectedSupported >= 0) {
    EXPECT_EQ(supported, kExpectedSupported);
  }
  if (kExpectedPassed >= 0) {
    EXPECT_EQ(passed, kExpectedPassed);
  }
}

}  // namespace
}  // namespace kernels
}  // namespace onnxc
