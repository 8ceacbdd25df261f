// run: executes an ONNX model with the in-house executor (kernels/).
//
//   bazel run //tools:run -- --model M.onnx --inputs DIR --outputs DIR
//                            [--threads N] [--bench N]
//
// Inputs: input_K.pb TensorProto files (ONNX test layout; matched to graph
// inputs by TensorProto name, else by order) or .npy files (input_K.npy, or
// NAME.npy). Outputs: output_K.pb, one per graph output. --bench N runs N
// more times and prints "median_ms=... min_ms=...".
// Exit codes: 0 ok, 2 bad usage, 3 bad input (model, data, unsupported op),
// 4 internal error.
#include <algorithm>
#include <chrono>
#include <map>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "ir/import.h"
#include "kernels/executor.h"
#include "kernels/testutil.h"
#include "ir/atomic_file.h"
#include "tools/cli_util.h"

ABSL_FLAG(std::string, model, "", "ONNX model to run (required)");
ABSL_FLAG(std::string, inputs, "", "folder with input_K.pb or .npy files (required)");
ABSL_FLAG(std::string, outputs, "", "folder to write output_K.pb files to (created if missing)");
ABSL_FLAG(int, threads, 0, "threads to use (0: all cores)");
ABSL_FLAG(int, bench, 0, "time N runs and print median_ms=... min_ms=...");
ABSL_FLAG(int, warmup, 2, "untimed runs before --bench");
ABSL_FLAG(bool, profile, false, "print time per op type (one extra run)");
ABSL_FLAG(std::string, int8_dot, "exact",
          "how integer kernels add u8 x s8 products: exact, or x86-int16-pairs (ONNX Runtime on x86 without VNNI)");

namespace onnxc {
namespace {

constexpr char kUsage[] =
    "usage: run --model M.onnx --inputs DIR [--outputs DIR] [--threads N] [--bench N]\n"
    "Runs an ONNX model with the project's CPU executor.";

int Fail(int code, const std::string& msg) {
  std::fprintf(stderr, "run: error: %s\n", msg.c_str());
  return code;
}

int Main(int argc, char** argv) {
  PreflightFlags(argc, argv, kUsage, "tools/run");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) return Fail(kExitUsage, absl::StrCat("unexpected argument '", rest[1], "'\n", kUsage));
  if (absl::GetFlag(FLAGS_model).empty()) return Fail(kExitUsage, absl::StrCat("--model is required\n", kUsage));
  if (absl::GetFlag(FLAGS_inputs).empty()) return Fail(kExitUsage, absl::StrCat("--inputs is required\n", kUsage));
  if (absl::GetFlag(FLAGS_threads) < 0) return Fail(kExitUsage, "--threads must be >= 0");
  if (absl::GetFlag(FLAGS_bench) < 0) return Fail(kExitUsage, "--bench must be >= 0");
  if (absl::GetFlag(FLAGS_outputs).empty() && absl::GetFlag(FLAGS_bench) == 0) {
    return Fail(kExitUsage, absl::StrCat("give --outputs, --bench or both\n", kUsage));
  }
  std::string model_path = ResolveUserPath(absl::GetFlag(FLAGS_model));
  std::string in_dir = ResolveUserPath(absl::GetFlag(FLAGS_inputs));

  auto model = LoadModel(model_path);
  if (!model.ok()) return Fail(ExitCodeFor(model.status()), std::string(model.status().message()));
  int threads = absl::GetFlag(FLAGS_threads);
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  ExecutorOptions opts;
  opts.threads = threads;
  opts.kernels = KernelOptions::FromEnvironment();  // ONNXC_DNNL_* debugging overrides
  if (absl::GetFlag(FLAGS_int8_dot) == "x86-int16-pairs") opts.kernels.int8_dot = KernelOptions::Int8Dot::kX86Int16Pairs;
  else if (absl::GetFlag(FLAGS_int8_dot) != "exact") return Fail(kExitUsage, "--int8-dot must be exact or x86-int16-pairs");
  auto ex = Executor::Create(**model, opts);
  if (!ex.ok()) {
    return Fail(ExitCodeFor(ex.status()), absl::StrCat(model_path, ": ", ex.status().message()));
  }
  auto inputs = kernels::LoadInputs((*model)->graph(), in_dir);
  if (!inputs.ok()) return Fail(kExitBadInput, std::string(inputs.status().message()));

  auto outs = (*ex)->Run(*inputs);
  if (!outs.ok()) {
    return Fail(ExitCodeFor(outs.status()), absl::StrCat(model_path, ": ", outs.status().message()));
  }
  if (!absl::GetFlag(FLAGS_outputs).empty()) {
    std::string out_dir = ResolveUserPath(absl::GetFlag(FLAGS_outputs));
    std::string mk = absl::StrCat("mkdir -p '", out_dir, "'");
    if (std::system(mk.c_str()) != 0) return Fail(kExitBadInput, absl::StrCat("cannot create ", out_dir));
    const auto& gouts = (*model)->graph().outputs();
    for (size_t i = 0; i < outs->size(); ++i) {
      onnx::TensorProto proto;
      (*outs)[i].ToProto(&proto, /*inline_data=*/true);
      proto.set_name(gouts[i]->name());
      std::string bytes;
      if (!proto.SerializeToString(&bytes)) return Fail(kExitInternal, "cannot serialize an output");
      std::string path = absl::StrCat(out_dir, "/output_", i, ".pb");
      absl::Status st = WriteFileAtomically(path, bytes);
      if (!st.ok()) return Fail(kExitInternal, std::string(st.message()));
    }
    std::fprintf(stderr, "run: wrote %zu output(s) to %s\n", outs->size(), out_dir.c_str());
  }
  if (absl::GetFlag(FLAGS_profile)) {
    // Time between consecutive observer calls is the producing node's time.
    std::map<std::string, double> by_op;
    auto last = std::chrono::steady_clock::now();
    Observer obs = [&](const Value& v, const TensorView&) {
      auto now = std::chrono::steady_clock::now();
      if (v.producer() != nullptr && v.output_index() == 0) {
        by_op[v.producer()->op_type()] += std::chrono::duration<double, std::milli>(now - last).count();
      }
      last = std::chrono::steady_clock::now();
    };
    auto r = (*ex)->Run(*inputs, &obs);
    if (!r.ok()) return Fail(kExitInternal, std::string(r.status().message()));
    for (auto& [op, ms] : by_op) std::printf("profile %-24s %9.3f ms\n", op.c_str(), ms);
  }
  int bench = absl::GetFlag(FLAGS_bench);
  if (bench > 0) {
    for (int i = 0; i < absl::GetFlag(FLAGS_warmup); ++i) {
      auto r = (*ex)->Run(*inputs);
      if (!r.ok()) return Fail(kExitInternal, std::string(r.status().message()));
    }
    std::vector<double> ms;
    for (int i = 0; i < bench; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      auto r = (*ex)->Run(*inputs);
      auto t1 = std::chrono::steady_clock::now();
      if (!r.ok()) return Fail(kExitInternal, std::string(r.status().message()));
      ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    double median = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
    std::printf("median_ms=%.3f min_ms=%.3f\n", median, ms[0]);
  }
  return kExitOk;
}

}  // namespace
}  // namespace onnxc

int main(int argc, char** argv) { return onnxc::Main(argc, argv); }
