// Shared pieces of the oneDNN paths (conv_dnnl.cc, pool_dnnl.cc,
// dnnl_layout.cc). Only in a -DONNXC_CONV_DNNL build.
#ifndef ONNXC_KERNELS_DNNL_COMMON_H_
#define ONNXC_KERNELS_DNNL_COMMON_H_

#ifdef ONNXC_CONV_DNNL

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/ktensor.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace onnxc {
namespace kernels {
namespace dnnl_util {

dnnl::engine& Engine();
dnnl::stream& Stream();  // one per thread
// oneDNN's OpenMP thread count for the calling thread (before any primitive
// runs, including weight reorders).
void SetOmpThreads(int threads);
// The memory descriptor of FLOAT `dims` in `layout` (KTensor::layout: 0
// plain, 1 channels last, 8/16 nC..{8,16}c). Ranks 3-5.
dnnl::memory::desc Desc(const std::vector<int64_t>& dims, int layout);
inline dnnl::memory::desc Desc(const KTensor& t) { return Desc(t.dims, t.layout); }
// The layout (0, 1, 8, 16) whose Desc(dims, layout) equals md; -1 if none.
int LayoutOf(const dnnl::memory::desc& md, const std::vector<int64_t>& dims);
// Per-thread scratch buffers (which = 0..2), grown as needed.
void* Scratch(int which, size_t bytes);

}  // namespace dnnl_util
}  // namespace kernels
}  // namespace onnxc

#endif  // ONNXC_CONV_DNNL
#endif  // ONNXC_KERNELS_DNNL_COMMON_H_
