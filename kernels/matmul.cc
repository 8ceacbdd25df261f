// Gemm and MatMul through BLAS (float32); other types use a plain loop.
#include <cstring>

#include "kernels/registry.h"

namespace onnxc {
namespace kernels {
namespace {

template <typename T>
void NaiveMatMul(const T* a, const T* b, T* c, int64_t m, int64_t n, int64_t k) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      T acc = 0;
      for (int64_t p = 0; p < k; ++p) acc += a[i * k + p] * b[p * n + j];
      c[i * n + j] = acc;
    }
}

absl::Status GemmKernel(OpContext& c) {
  KTensor a = c.input(0), b = c.input(1);
  if (a.type != TP::FLOAT) a = ToFloat(a);
  if (b.type != TP::FLOAT) b = ToFloat(b);
  if (a.rank() != 2 || b.rank() != 2) {
    if (c.opset < 9 && a.rank() > 2) {
      int64_t rest = a.numel() / a.dims[0];
      a = a.Reshaped({a.dims[0], rest});
    } else {
      return c.Error("Gemm needs 2-D inputs");
    }
  }
  bool ta = c.attr_i("transA", 0) != 0, tb = c.attr_i("transB", 0) != 0;
  float alpha = c.attr_f("alpha", 1.f), beta = c.attr_f("beta", 1.f);
  int64_t m = ta ? a.dims[1] : a.dims[0], k = ta ? a.dims[0] : a.dims[1];
  int64_t kb = tb ? b.dims[1] : b.dims[0], n = tb ? b.dims[0] : b.dims[1];
  if (k != kb) return c.Error(absl::StrCat("Gemm: inner dimensions differ (", k, " vs ", kb, ")"));
  KTensor y = KTensor::Alloc(TP::FLOAT, {m, n});
  float* py = y.mut<float>();
  float gemm_beta = 0.f;
  if (c.has(2) && beta != 0.f && c.input(2).numel() > 0) {
    KTensor cc = ToFloat(c.input(2));
    auto shape = BroadcastShapes(cc.dims, {m, n});
    if (!shape.ok() || *shape != std::vector<int64_t>{m, n}) return c.Error("Gemm: C does not broadcast to [M,N]");
    std::vector<int64_t> s = BroadcastStrides(cc.dims, {m, n});
    const float* pc = cc.ptr<float>();
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) py[i * n + j] = beta * pc[i * s[0] + j * s[1]];
    gemm_beta = 1.f;
  }
  Sgemm(ta, tb, m, n, k, alpha, a.ptr<float>(), a.dims[1], b.ptr<float>(), b.dims[1], gemm_beta,
        py, n);
  c.out[0] = std::move(y);
  return absl::OkStatus();
}

absl::Status MatMulKernel(OpContext& c) {
  KTensor a = c.input(0), b = c.input(1);
  if (a.type != b.type) return c.Error("MatMul input types differ");
  std::vector<int64_t> ad = a.dims, bd = b.dims;
  bool a1 = ad.size() == 1, b1 = bd.size() == 1;
  if (a1) ad.insert(ad.begin(), 1);
  if (b1) bd.push_back(1);
  if (ad.size() < 2 || bd.size() < 2) return c.Error("MatMul needs inputs of rank >= 1");
  int64_t m = ad[ad.size() - 2], k = ad.back(), kb = bd[bd.size() - 2], n = bd.back();
  if (k != kb) {
    return c.Error(absl::StrCat("MatMul: inner dimensions differ (", k, " vs ", kb, ")"));
  }
  std::vector<int64_t> abatch(ad.begin(), ad.end() - 2), bbatch(bd.begin(), bd.end() - 2);
  auto batch = BroadcastShapes(abatch, bbatch);
  if (!batch.ok()) return batch.status();
  std::vector<int64_t> od = *batch;
  int64_t nb = 1;
  for (int64_t d : od) nb *= d;
  std::vector<int64_t> full = od;
  full.push_back(m);
  full.push_back(n);
  KTensor y = KTensor::Alloc(a.type, full);
  std::vector<int64_t> sa = BroadcastStrides(abatch, od), sb = BroadcastStrides(bbatch, od);
  auto batch_offsets = [&](int64_t bi, int64_t* oa, int64_t* ob) {
    *oa = 0;
    *ob = 0;
    int64_t rem = bi;
    for (int64_t d = static_cast<int64_t>(od.size()) - 1; d >= 0; --d) {
      int64_t i = rem % od[d];
      rem /= od[d];
      *oa += i * sa[d];
      *ob += i * sb[d];
    }
  };
  if (a.type == TP::FLOAT) {
    const float* pa = a.ptr<float>();
    const float* pb = b.ptr<float>();
    float* py = y.mut<float>();
    int64_t bsize = 1;
    for (int64_t d : bbatch) bsize *= d;
    if (bsize == 1 && nb > 0) {
      // B is shared: one GEMM over all rows of A (A's batch is contiguous).
      int64_t asize = 1;
      for (int64_t d : abatch) asize *= d;
      if (asize == nb) {
        Sgemm(false, false, nb * m, n, k, 1.f, pa, k, pb, n, 0.f, py, n);
        nb = 0;
      }
    }
    if (nb > 1 && m * n * k < (int64_t{1} << 18)) {
      // Many small products (attention heads): whole products per thread,
      // each too small to split.
      const int64_t per_task = std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, m * n * k));
      ParallelFor(c.threads, nb, [&](int64_t s, int64_t e) {
        for (int64_t bi = s; bi < e; ++bi) {
          int64_t oa, ob;
          batch_offsets(bi, &oa, &ob);
          SgemmSerial(false, false, m, n, k, 1.f, pa + oa * m * k, k, pb + ob * k * n, n, 0.f,
                      py + bi * m * n, n);
        }
      }, per_task);
      nb = 0;
    }
    for (int64_t bi = 0; bi < nb; ++bi) {
      int64_t oa, ob;
      batch_offsets(bi, &oa, &ob);
      Sgemm(false, false, m, n, k, 1.f, pa + oa * m * k, k, pb + ob * k * n, n, 0.f,
            py + bi * m * n, n);
    }
  } else {
    ONNXC_DISPATCH_ALL(a.type, c, {
      for (int64_t bi = 0; bi < nb; ++bi) {
        int64_t oa, ob;
        batch_offsets(bi, &oa, &ob);
        NaiveMatMul<T>(a.ptr<T>() + oa * m * k, b.ptr<T>() + ob * k * n, y.mut<T>() + bi * m * n,
                       m, n, k);
      }
    });
  }
  std::vector<int64_t> final_dims = od;
  if (!a1) final_dims.push_back(m);
  if (!b1) final_dims.push_back(n);
  c.out[0] = y.Reshaped(final_dims);
  return absl::OkStatus();
}

ONNXC_REGISTER_KERNEL("Gemm", 1, 1000, GemmKernel);
ONNXC_REGISTER_KERNEL("MatMul", 1, 1000, MatMulKernel);

}  // namespace
}  // namespace kernels
}  // namespace onnxc
