#include "kernels/kernel_options.h"

#include <cstdlib>
#include <cstring>

#include "kernels/cpu_features.h"

namespace onnxc {
namespace {

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

void Flag(const char* name, bool* out) {
  if (const char* v = Env(name)) *out = !(v[0] == '0' || v[0] == 'n' || v[0] == 'N' || v[0] == 'f' || v[0] == 'F');
}

}  // namespace

int KernelOptions::CpuChannelBlock() {
  static const int block = [] {
    const CpuFeatures cpu = DetectCpuFeatures();
    return cpu.avx512f ? 16 : cpu.avx2 ? 8 : -1;
  }();
  return block;
}

KernelOptions KernelOptions::FromEnvironment() {
  KernelOptions o;
  Flag("ONNXC_DNNL_CONV", &o.dnnl);
  Flag("ONNXC_DNNL_DW", &o.dnnl_depthwise);
  Flag("ONNXC_DNNL_TUNE", &o.dnnl_tune);
  Flag("ONNXC_DNNL_TUNE_LOG", &o.dnnl_tune_log);
  if (const char* v = Env("ONNXC_DNNL_SPLIT_FLOPS")) o.dnnl_split_flops = std::atof(v);
  if (const char* v = Env("ONNXC_DNNL_LAYOUT")) {
    if (std::strcmp(v, "nchw") == 0) o.dnnl_layout = Layout::kPlain;
    else if (std::strcmp(v, "nhwc") == 0) o.dnnl_layout = Layout::kNhwc;
    else if (std::strcmp(v, "nChw8c") == 0) o.dnnl_layout = Layout::kBlocked8;
    else if (std::strcmp(v, "nChw16c") == 0) o.dnnl_layout = Layout::kBlocked16;
    else if (std::strcmp(v, "cpu") == 0) o.dnnl_layout = Layout::kByCpu;
    else o.dnnl_layout = Layout::kAny;
  }
  return o;
}

}  // namespace onnxc
