// Optional (-DONNXC_CONV_DNNL build): 2-D MaxPool / AveragePool of the fused
// plan through oneDNN's pooling primitive, in the input's layout, so a
// MaxPool between blocked convs (resnet's stem) needs no reorder. Cached per
// input shape and layout in the plan step.
#include "kernels/registry.h"

#ifdef ONNXC_CONV_DNNL
#include <map>
#include <mutex>
#include <utility>

#include "kernels/dnnl_common.h"
#include "kernels/spatial.h"
#endif

namespace onnxc {
namespace kernels {

#ifndef ONNXC_CONV_DNNL

absl::Status DnnlPool(OpContext&, std::shared_ptr<void>*, bool* done) {
  *done = false;
  return absl::OkStatus();
}

#else

namespace {

struct PoolPlan {
  bool usable = false;
  dnnl::pooling_forward pool;
  dnnl::memory::desc src_md, dst_md;
  std::vector<int64_t> odims;
};

struct PoolCache {
  std::mutex mu;
  std::map<std::pair<std::vector<int64_t>, int>, std::shared_ptr<PoolPlan>> plans;
};

std::shared_ptr<PoolPlan> BuildPool(OpContext& c, const KTensor& x) {
  auto pp = std::make_shared<PoolPlan>();
  const bool is_max = c.node.IsOp("MaxPool");
  std::vector<int64_t> kernel = c.attr_ints("kernel_shape");
  std::vector<int64_t> in(x.dims.begin() + 2, x.dims.end());
  if (kernel.size() != 2) return pp;
  for (int64_t d : c.attr_ints("dilations")) {
    if (d != 1) return pp;
  }
  const bool ceil_mode = c.attr_i("ceil_mode", 0) != 0;
  auto geo = ComputeGeometry(c, in, kernel, ceil_mode);
  if (!geo.ok()) return pp;
  const Geometry& g = *geo;
  dnnl::memory::dims strides(g.strides.begin(), g.strides.end()), k(kernel.begin(), kernel.end());
  dnnl::memory::dims pl(g.pad_begin.begin(), g.pad_begin.end()), pr(2);
  for (int i = 0; i < 2; ++i) {
    // Right padding that yields ONNX's output size (ceil_mode adds some).
    pr[i] = (g.out[i] - 1) * g.strides[i] + kernel[i] - in[i] - g.pad_begin[i];
    if (pr[i] < 0 || pl[i] >= kernel[i] || pr[i] >= kernel[i]) return pp;
    // Average pooling over ceil-mode padding divides differently in ONNX.
    if (!is_max && pr[i] != g.pad_end[i]) return pp;
  }
  dnnl::algorithm alg = dnnl::algorithm::pooling_max;
  if (!is_max) {
    alg = c.attr_i("count_include_pad", 0) != 0 ? dnnl::algorithm::pooling_avg_include_padding
                                                : dnnl::algorithm::pooling_avg_exclude_padding;
  }
  pp->odims = {x.dims[0], x.dims[1], g.out[0], g.out[1]};
  pp->src_md = dnnl_util::Desc(x);
  pp->dst_md = dnnl_util::Desc(pp->odims, x.layout);
  dnnl::pooling_forward::desc d(dnnl::prop_kind::forward_inference, alg, pp->src_md, pp->dst_md,
                                strides, k, pl, pr);
  dnnl::pooling_forward::primitive_desc pd(d, dnnl_util::Engine());
  if (std::string(pd.impl_info_str()).find("ref") != std::string::npos) return pp;
  pp->pool = dnnl::pooling_forward(pd);
  pp->usable = true;
  return pp;
}

}  // namespace

absl::Status DnnlPool(OpContext& c, std::shared_ptr<void>* cache_slot, bool* done) {
  *done = false;
  const KTensor& x = c.input(0);
  if (x.type != TP::FLOAT || x.rank() != 4 || x.numel() == 0) return absl::OkStatus();
  static std::mutex init_mu;
  PoolCache* cache;
  {
    std::lock_guard<std::mutex> l(init_mu);
    if (!*cache_slot) *cache_slot = std::make_shared<PoolCache>();
    cache = static_cast<PoolCache*>(cache_slot->get());
  }
  std::shared_ptr<PoolPlan> pp;
  {
    std::lock_guard<std::mutex> l(cache->mu);
    auto key = std::make_pair(x.dims, x.layout);
    auto it = cache->plans.find(key);
    if (it != cache->plans.end()) {
      pp = it->second;
    } else {
      try {
        pp = BuildPool(c, x);
      } catch (const dnnl::error&) {
        pp = std::make_shared<PoolPlan>();
      }
      cache->plans[key] = pp;
    }
  }
  if (!pp->usable) return absl::OkStatus();
  // Memory-bound and short: one thread (see the OpenMP note in conv_dnnl.cc).
  dnnl_util::SetOmpThreads(1);
  KTensor y = KTensor::Alloc(TP::FLOAT, pp->odims, x.layout);
  try {
    auto& eng = dnnl_util::Engine();
    dnnl::memory src(pp->src_md, eng, const_cast<void*>(x.data));
    dnnl::memory dst(pp->dst_md, eng, y.data);
    pp->pool.execute(dnnl_util::Stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
    dnnl_util::Stream().wait();
  } catch (const dnnl::error& e) {
    return c.Error(absl::StrCat("oneDNN pooling: ", e.what()));
  }
  c.out[0] = std::move(y);
  *done = true;
  return absl::OkStatus();
}

#endif  // ONNXC_CONV_DNNL

}  // namespace kernels
}  // namespace onnxc
