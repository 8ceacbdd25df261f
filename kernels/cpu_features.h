// What the host CPU can do, for the kernels (layouts by vector width) and for
// saying whether a quantized model suits this machine: the x86 int8 dot
// product instructions decide whether ONNX Runtime's u8 x s8 kernels add
// pairs of products in saturating int16 (AVX2 without VNNI) or in int32.
#ifndef ONNXC_KERNELS_CPU_FEATURES_H_
#define ONNXC_KERNELS_CPU_FEATURES_H_

#include <string>

namespace onnxc {

struct CpuFeatures {
  bool x86 = false, arm64 = false;
  bool avx2 = false, fma = false;
  bool avx512f = false, avx512bw = false, avx512vl = false;
  bool avx512_vnni = false, avx_vnni = false;  // int8 dot products into int32
  bool amx_int8 = false;
  bool arm_dotprod = false;                    // ARM sdot/udot
  std::string model;                           // "AMD EPYC 9B14", from /proc/cpuinfo

  // x86 without VNNI (or AMX): u8 x s8 products are added in pairs into
  // saturating int16 by ONNX Runtime's kernels.
  bool SaturatesU8S8() const { return x86 && !avx512_vnni && !avx_vnni && !amx_int8; }
  // "AVX2, AVX-512, AVX512-VNNI" or "ARM64 with dot product".
  std::string Describe() const;
};

// Detected once per call (cpuid / getauxval); cheap.
CpuFeatures DetectCpuFeatures();

}  // namespace onnxc

#endif  // ONNXC_KERNELS_CPU_FEATURES_H_
