#include "kernels/int8_gemm.h"

#include <cstring>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "kernels/registry.h"

namespace onnxc {
namespace kernels {
namespace {

// Raw dot product of K bytes; `pairs`: u8 x s8 pair sums saturated to int16.
template <typename TA, typename TB>
int32_t Dot(const TA* a, const TB* b, int64_t k, bool pairs) {
  int32_t acc = 0;
  int64_t i = 0;
#if defined(__AVX2__)
  if (pairs) {
    // vpmaddubsw is the instruction ONNX Runtime's kernels run: u8 x s8,
    // adjacent products summed with int16 saturation.
    __m256i sum = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    for (; i + 32 <= k; i += 32) {
      __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i));
      __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i));
      sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_maddubs_epi16(va, vb), ones));
    }
    alignas(32) int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sum);
    for (int32_t v : lanes) acc += v;
  } else {
    __m256i sum = _mm256_setzero_si256();
    for (; i + 16 <= k; i += 16) {
      __m128i ra = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i));
      __m128i rb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i));
      __m256i va = std::is_signed<TA>::value ? _mm256_cvtepi8_epi16(ra) : _mm256_cvtepu8_epi16(ra);
      __m256i vb = std::is_signed<TB>::value ? _mm256_cvtepi8_epi16(rb) : _mm256_cvtepu8_epi16(rb);
      sum = _mm256_add_epi32(sum, _mm256_madd_epi16(va, vb));
    }
    alignas(32) int32_t lanes[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sum);
    for (int32_t v : lanes) acc += v;
  }
#endif
  // i is even here (the vector steps are even), so pairs keep their alignment.
  for (; i < k; i += 2) {
    int32_t p = static_cast<int32_t>(a[i]) * b[i] + (i + 1 < k ? static_cast<int32_t>(a[i + 1]) * b[i + 1] : 0);
    if (pairs) p = std::min(32767, std::max(-32768, p));
    acc += p;
  }
  return acc;
}

template <typename TA, typename TB>
void Gemm(int64_t m, int64_t n, int64_t k, const TA* a, int64_t lda, int32_t za, const TB* b, int64_t ldb,
          const std::vector<int32_t>& zb, int32_t* c, bool pairs, int threads) {
  // Exact column sums of B for the zero-point corrections.
  std::vector<int32_t> bsum(n, 0);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < k; ++i) bsum[j] += b[j * ldb + i];
  ParallelFor(threads, m, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const TA* ar = a + r * lda;
      int32_t asum = 0;
      for (int64_t i = 0; i < k; ++i) asum += ar[i];
      for (int64_t j = 0; j < n; ++j) {
        int32_t z = zb.size() == 1 ? zb[0] : zb[j];
        c[r * n + j] = Dot(ar, b + j * ldb, k, pairs) - z * asum - za * bsum[j] + static_cast<int32_t>(k) * za * z;
      }
    }
  }, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, n * k / 64)));
}

}  // namespace

void Int8Gemm(int64_t m, int64_t n, int64_t k, const void* a, bool a_signed, int64_t lda, int32_t za,
              const void* b, bool b_signed, int64_t ldb, const std::vector<int32_t>& zb, int32_t* c,
              KernelOptions::Int8Dot mode, int threads) {
  // Only u8 x s8 runs on vpmaddubsw in ONNX Runtime; every other combination is widened.
  const bool pairs = mode == KernelOptions::Int8Dot::kX86Int16Pairs && !a_signed && b_signed;
  if (!a_signed && b_signed)
    Gemm(m, n, k, static_cast<const uint8_t*>(a), lda, za, static_cast<const int8_t*>(b), ldb, zb, c, pairs, threads);
  else if (!a_signed && !b_signed)
    Gemm(m, n, k, static_cast<const uint8_t*>(a), lda, za, static_cast<const uint8_t*>(b), ldb, zb, c, false, threads);
  else if (a_signed && b_signed)
    Gemm(m, n, k, static_cast<const int8_t*>(a), lda, za, static_cast<const int8_t*>(b), ldb, zb, c, false, threads);
  else
    Gemm(m, n, k, static_cast<const int8_t*>(a), lda, za, static_cast<const uint8_t*>(b), ldb, zb, c, false, threads);
}

}  // namespace kernels
}  // namespace onnxc
