// Latency and per-step profile of the executor on one model (the fused plan,
// i.e. what tools/run --bench measures), for kernel work.
//   bazel run //kernels:model_bench -- MODEL.onnx INPUT_DIR [THREADS] [ITERS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <vector>

#include "ir/import.h"
#include "kernels/executor.h"
#include "kernels/testutil.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: model_bench MODEL.onnx INPUT_DIR [THREADS] [ITERS]\n");
    return 2;
  }
  int threads = argc > 3 ? std::atoi(argv[3]) : 1;
  int iters = argc > 4 ? std::atoi(argv[4]) : 20;
  auto model = onnxc::LoadModel(argv[1]);
  if (!model.ok()) return std::fprintf(stderr, "%s\n", model.status().ToString().c_str()), 1;
  auto inputs = onnxc::kernels::LoadInputs((*model)->graph(), argv[2]);
  if (!inputs.ok()) return std::fprintf(stderr, "%s\n", inputs.status().ToString().c_str()), 1;
  onnxc::ExecutorOptions o;
  o.threads = threads;
  o.kernels = onnxc::KernelOptions::FromEnvironment();  // ONNXC_DNNL_* debugging overrides
  auto plain = onnxc::Executor::Create(**model, o);
  o.profile = true;
  auto prof = onnxc::Executor::Create(**model, o);
  if (!plain.ok() || !prof.ok()) return std::fprintf(stderr, "create failed\n"), 1;
  for (int i = 0; i < 2; ++i) (void)(*plain)->Run(*inputs);
  // Process CPU time too: under load it is steadier than wall time.
  auto cpu_now = [] {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
  };
  std::vector<double> ms, cpu;
  for (int i = 0; i < iters; ++i) {
    double c0 = cpu_now();
    auto t0 = std::chrono::steady_clock::now();
    auto r = (*plain)->Run(*inputs);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    cpu.push_back(cpu_now() - c0);
    if (!r.ok()) return std::fprintf(stderr, "%s\n", r.status().ToString().c_str()), 1;
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  (void)(*prof)->Run(*inputs);
  auto warm = (*prof)->op_profile();
  for (int i = 0; i < iters; ++i) (void)(*prof)->Run(*inputs);
  double total = 0;
  std::vector<std::pair<double, std::string>> rows;
  for (auto& [k, v] : (*prof)->op_profile()) {
    double per = (v - warm[k]) / iters;
    total += per;
    rows.push_back({per, k});
  }
  std::sort(rows.rbegin(), rows.rend());
  for (auto& [v, k] : rows) std::printf("  %-40s %8.3f ms\n", k.c_str(), v);
  std::printf("profiled_sum_ms=%.3f\n", total);
  std::printf("median_ms=%.3f min_ms=%.3f cpu_median_ms=%.3f cpu_min_ms=%.3f\n", ms[ms.size() / 2],
              ms[0], cpu[cpu.size() / 2], cpu[0]);
  return 0;
}
