#include "kernels/cpu_features.h"

#include <fstream>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace onnxc {
namespace {

std::string CpuModel() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    absl::string_view v = line;
    if (absl::ConsumePrefix(&v, "model name") || absl::ConsumePrefix(&v, "Model")) {
      size_t colon = v.find(':');
      if (colon != absl::string_view::npos) return std::string(absl::StripAsciiWhitespace(v.substr(colon + 1)));
    }
  }
  return "unknown CPU";
}

}  // namespace

CpuFeatures DetectCpuFeatures() {
  CpuFeatures c;
  c.model = CpuModel();
#if defined(__x86_64__) || defined(__i386__)
  c.x86 = true;
  unsigned a, b, cx, d;
  if (__get_cpuid(1, &a, &b, &cx, &d)) c.fma = (cx >> 12) & 1;
  // The OS must save the wider registers (XCR0) for AVX / AVX-512 to be usable.
  bool os_avx = false, os_avx512 = false;
  if (__get_cpuid(1, &a, &b, &cx, &d) && ((cx >> 27) & 1)) {
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    os_avx = (lo & 0x6) == 0x6;
    os_avx512 = (lo & 0xE6) == 0xE6;
  }
  if (__get_cpuid_count(7, 0, &a, &b, &cx, &d)) {
    c.avx2 = os_avx && ((b >> 5) & 1);
    c.avx512f = os_avx512 && ((b >> 16) & 1);
    c.avx512bw = os_avx512 && ((b >> 30) & 1);
    c.avx512vl = os_avx512 && ((b >> 31) & 1);
    c.avx512_vnni = os_avx512 && ((cx >> 11) & 1);
    c.amx_int8 = (d >> 25) & 1;
  }
  if (__get_cpuid_count(7, 1, &a, &b, &cx, &d)) c.avx_vnni = os_avx && ((a >> 4) & 1);
#endif
#if defined(__aarch64__)
  c.arm64 = true;
  c.arm_dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif
  return c;
}

std::string CpuFeatures::Describe() const {
  std::vector<std::string> f;
  if (arm64) return arm_dotprod ? "ARM64 with dot product" : "ARM64 without dot product";
  if (!x86) return "unknown ISA";
  if (avx2) f.push_back("AVX2");
  if (avx512f) f.push_back("AVX-512");
  if (avx512_vnni) f.push_back("AVX512-VNNI");
  if (avx_vnni) f.push_back("AVX-VNNI");
  if (amx_int8) f.push_back("AMX-INT8");
  if (!avx512_vnni && !avx_vnni && !amx_int8) f.push_back("no VNNI");
  return absl::StrJoin(f, ", ");
}

}  // namespace onnxc
