// oneDNN layouts of the fused plan (channels last, nChw16c): descriptors,
// shared engine and stream, and the reorder back to plain NCHW at the edges
// of regions that keep them.
#include "kernels/dnnl_common.h"
#include "kernels/registry.h"

#ifdef ONNXC_CONV_DNNL
#include <algorithm>
#include <cstdlib>
#include <cstring>

extern "C" void omp_set_num_threads(int);
#endif

namespace onnxc {
namespace kernels {

#ifndef ONNXC_CONV_DNNL

KTensor ToPlainLayout(const KTensor& t) { return t; }  // never non-plain

#else

namespace dnnl_util {

dnnl::engine& Engine() {
  static dnnl::engine* e = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *e;
}

dnnl::stream& Stream() {
  thread_local dnnl::stream* s = new dnnl::stream(Engine());
  return *s;
}

void SetOmpThreads(int threads) {
  thread_local int omp_threads = -1;
  if (omp_threads != threads) {
    omp_set_num_threads(std::max(1, threads));
    omp_threads = threads;
  }
}

dnnl::memory::desc Desc(const std::vector<int64_t>& dims, int layout) {
  using tag = dnnl::memory::format_tag;
  static const tag tags[3][4] = {{tag::ncw, tag::nwc, tag::nCw8c, tag::nCw16c},
                                 {tag::nchw, tag::nhwc, tag::nChw8c, tag::nChw16c},
                                 {tag::ncdhw, tag::ndhwc, tag::nCdhw8c, tag::nCdhw16c}};
  int r = static_cast<int>(dims.size()) - 3;
  int l = layout == 16 ? 3 : layout == 8 ? 2 : layout == 1 ? 1 : 0;
  if (r < 0 || r > 2) return dnnl::memory::desc();
  return dnnl::memory::desc(dnnl::memory::dims(dims.begin(), dims.end()),
                            dnnl::memory::data_type::f32, tags[r][l]);
}

int LayoutOf(const dnnl::memory::desc& md, const std::vector<int64_t>& dims) {
  for (int l : {0, 1, 16, 8}) {
    if (md == Desc(dims, l)) return l;
  }
  return -1;
}

void* Scratch(int which, size_t bytes) {
  thread_local std::vector<float> bufs[3];
  std::vector<float>& v = bufs[which];
  size_t n = (bytes + sizeof(float) - 1) / sizeof(float);
  if (v.size() < n) v.resize(n + 16);
  return v.data();
}

}  // namespace dnnl_util

KTensor ToPlainLayout(const KTensor& t) {
  if (t.layout == 0) return t;
  using namespace dnnl_util;
  KTensor y = KTensor::Alloc(t.type, t.dims);
  SetOmpThreads(1);  // memory-bound, few per run
  dnnl::memory src(Desc(t), Engine(), t.data);
  dnnl::memory dst(Desc(y), Engine(), y.data);
  // Reorders are cheap to create; the layout edges are few per run.
  dnnl::reorder(src, dst).execute(Stream(), src, dst);
  Stream().wait();
  return y;
}

#endif  // ONNXC_CONV_DNNL

}  // namespace kernels
}  // namespace onnxc
