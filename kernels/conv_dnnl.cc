// Optional: fused Conv (+bias +Relu/Clip) through oneDNN's convolution
// primitive (build with -DONNXC_CONV_DNNL and link libdnnl, see BUILD). The
// primitive, its weights reordered into the layout oneDNN picks
// (format_tag::any) and the activation reorders are cached per input shape
// in the plan's fused step, so steady-state runs only execute.
//
// Runtime switches (only in a -DONNXC_CONV_DNNL build):
//   ONNXC_DNNL_CONV=0      use the built-in conv instead
//   ONNXC_DNNL_LAYOUT=nchw plain src/dst (oneDNN then runs im2col+gemm);
//                          default: oneDNN picks the src/dst layouts
//                          (nChw16c) and each conv reorders from/to NCHW
//   ONNXC_DNNL_TUNE=0      always use oneDNN where it has a non-reference
//                          implementation; default: on the first run of a
//                          shape, time oneDNN (with its reorders) against the
//                          built-in conv and keep the faster one
//   ONNXC_DNNL_DW=1        depthwise convs too (default: built-in kernel)
#include "kernels/registry.h"

#ifdef ONNXC_CONV_DNNL
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <cstdio>
#include <mutex>

#include "oneapi/dnnl/dnnl.hpp"
#include "kernels/spatial.h"

extern "C" void omp_set_num_threads(int);
#endif

namespace onnxc {
namespace kernels {

#ifndef ONNXC_CONV_DNNL

bool DnnlConvAvailable() { return false; }
absl::Status DnnlConv(OpContext&, const KTensor&, const KTensor*, const Epilogue&,
                      std::shared_ptr<void>*, bool* done) {
  *done = false;
  return absl::OkStatus();
}

#else

namespace {

bool EnvFlag(const char* name, bool dflt) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return dflt;
  return !(v[0] == '0' || v[0] == 'n' || v[0] == 'N' || v[0] == 'f' || v[0] == 'F');
}

dnnl::engine& Engine() {
  static dnnl::engine* e = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *e;
}

struct ShapePlan {
  bool usable = false;  // false: oneDNN has no good implementation, use ours
  dnnl::convolution_forward conv;
  dnnl::memory weights, bias;
  dnnl::memory::desc src_user, dst_user, src_md, dst_md;
  bool reorder_src = false, reorder_dst = false;
  dnnl::reorder src_reorder, dst_reorder;
  std::vector<int64_t> odims;
};

struct Cache {
  std::mutex mu;
  std::map<std::vector<int64_t>, std::shared_ptr<ShapePlan>> plans;
};

std::shared_ptr<ShapePlan> Build(OpContext& c, const std::vector<int64_t>& xdims,
                                 const KTensor& w, const KTensor* b, const Epilogue& epi,
                                 const Geometry& g, int64_t group) {
  using dnnl::memory;
  using tag = memory::format_tag;
  auto sp = std::make_shared<ShapePlan>();
  const int64_t N = xdims[0], M = w.dims[0];
  memory::dims src_dims(xdims.begin(), xdims.end());
  memory::dims dst_dims = {N, M};
  for (int64_t o : g.out) dst_dims.push_back(o);
  memory::dims w_dims;
  if (group == 1) {
    w_dims.assign(w.dims.begin(), w.dims.end());
  } else {
    w_dims = {group, M / group};
    w_dims.insert(w_dims.end(), w.dims.begin() + 1, w.dims.end());
  }
  memory::dims strides(g.strides.begin(), g.strides.end());
  memory::dims dil, pl(g.pad_begin.begin(), g.pad_begin.end()), pr(g.pad_end.begin(), g.pad_end.end());
  for (int64_t d : g.dilations) dil.push_back(d - 1);
  const tag plain = g.nd == 1 ? tag::ncw : g.nd == 2 ? tag::nchw : tag::ncdhw;
  const tag wplain = group == 1 ? (g.nd == 1 ? tag::oiw : g.nd == 2 ? tag::oihw : tag::oidhw)
                                : (g.nd == 1 ? tag::goiw : g.nd == 2 ? tag::goihw : tag::goidhw);
  const bool any = [] {
    const char* v = std::getenv("ONNXC_DNNL_LAYOUT");
    return !(v != nullptr && std::strcmp(v, "nchw") == 0);
  }();
  auto f32 = memory::data_type::f32;
  sp->src_user = memory::desc(src_dims, f32, plain);
  sp->dst_user = memory::desc(dst_dims, f32, plain);
  memory::desc src_any(src_dims, f32, any ? tag::any : plain);
  memory::desc dst_any(dst_dims, f32, any ? tag::any : plain);
  memory::desc w_any(w_dims, f32, tag::any);
  memory::desc b_md({M}, f32, tag::x);
  dnnl::post_ops po;
  if (epi.kind == Epilogue::kClamp) {
    if (epi.lo == 0.f && std::isinf(epi.hi) && epi.hi > 0) {
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    } else {
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, epi.lo, epi.hi);
    }
  }
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                    dnnl::algorithm::convolution_direct, src_any, w_any, b_md,
                                    dst_any, strides, dil, pl, pr);
  dnnl::convolution_forward::primitive_desc pd(d, attr, Engine());
  std::string impl = pd.impl_info_str();
  if (impl.find("ref") != std::string::npos) return sp;  // reference loops: too slow
  auto& eng = Engine();
  dnnl::stream s(eng);
  // Weights into oneDNN's layout, once.
  memory w_user(memory::desc(w_dims, f32, wplain), eng, const_cast<float*>(w.ptr<float>()));
  sp->weights = memory(pd.weights_desc(), eng);
  dnnl::reorder(w_user, sp->weights).execute(s, w_user, sp->weights);
  sp->bias = memory(b_md, eng);
  if (b != nullptr) {
    std::memcpy(sp->bias.get_data_handle(), b->ptr<float>(), M * sizeof(float));
  } else {
    std::memset(sp->bias.get_data_handle(), 0, M * sizeof(float));
  }
  s.wait();
  sp->src_md = pd.src_desc();
  sp->dst_md = pd.dst_desc();
  sp->reorder_src = sp->src_md != sp->src_user;
  sp->reorder_dst = sp->dst_md != sp->dst_user;
  if (sp->reorder_src) sp->src_reorder = dnnl::reorder(dnnl::reorder::primitive_desc(eng, sp->src_user, eng, sp->src_md));
  if (sp->reorder_dst) sp->dst_reorder = dnnl::reorder(dnnl::reorder::primitive_desc(eng, sp->dst_md, eng, sp->dst_user));
  sp->conv = dnnl::convolution_forward(pd);
  sp->odims.assign(dst_dims.begin(), dst_dims.end());
  sp->usable = true;
  (void)c;
  return sp;
}

float* Scratch(int which, size_t bytes) {
  thread_local std::vector<float> bufs[2];
  std::vector<float>& v = bufs[which];
  size_t n = (bytes + sizeof(float) - 1) / sizeof(float);
  if (v.size() < n) v.resize(n + 16);
  return v.data();
}

absl::Status Exec(OpContext& c, const ShapePlan& sp, const KTensor& x, KTensor* out) {
  KTensor y = KTensor::Alloc(TP::FLOAT, sp.odims);
  auto& eng = Engine();
  thread_local dnnl::stream* stream = new dnnl::stream(eng);
  try {
    dnnl::memory src_user(sp.src_user, eng, const_cast<void*>(x.data));
    dnnl::memory dst_user(sp.dst_user, eng, y.data);
    dnnl::memory src = src_user, dst = dst_user;
    if (sp.reorder_src) {
      src = dnnl::memory(sp.src_md, eng, Scratch(0, sp.src_md.get_size()));
      sp.src_reorder.execute(*stream, src_user, src);
    }
    if (sp.reorder_dst) dst = dnnl::memory(sp.dst_md, eng, Scratch(1, sp.dst_md.get_size()));
    sp.conv.execute(*stream, {{DNNL_ARG_SRC, src},
                              {DNNL_ARG_WEIGHTS, sp.weights},
                              {DNNL_ARG_BIAS, sp.bias},
                              {DNNL_ARG_DST, dst}});
    if (sp.reorder_dst) sp.dst_reorder.execute(*stream, dst, dst_user);
    stream->wait();
  } catch (const dnnl::error& e) {
    return c.Error(absl::StrCat("oneDNN conv: ", e.what()));
  }
  *out = std::move(y);
  return absl::OkStatus();
}

void SetOmpThreads(int threads) {
  thread_local int omp_threads = -1;
  if (omp_threads != threads) {
    omp_set_num_threads(std::max(1, threads));
    omp_threads = threads;
  }
}

// Best of 3 runs of each: keeps oneDNN only where it is faster.
void Tune(OpContext& c, ShapePlan* sp, const KTensor& w, const KTensor* b, const Epilogue& epi) {
  using clk = std::chrono::steady_clock;
  double best_dnnl = 1e30, best_ours = 1e30;
  for (int i = 0; i < 4; ++i) {
    KTensor out;
    auto t0 = clk::now();
    if (!Exec(c, *sp, c.input(0), &out).ok()) {
      sp->usable = false;
      return;
    }
    auto t1 = clk::now();
    absl::Status st = ConvWithEpilogue(c, w, b, epi);
    auto t2 = clk::now();
    c.out[0] = KTensor();
    if (!st.ok()) return;  // keep oneDNN; the built-in path would fail anyway
    if (i == 0) continue;  // warm-up (JIT, page faults)
    best_dnnl = std::min(best_dnnl, std::chrono::duration<double>(t1 - t0).count());
    best_ours = std::min(best_ours, std::chrono::duration<double>(t2 - t1).count());
  }
  sp->usable = best_dnnl < best_ours;
  if (EnvFlag("ONNXC_DNNL_TUNE_LOG", false)) {
    std::fprintf(stderr, "dnnl-tune %s x%s: dnnl %.3f ms ours %.3f ms -> %s\n",
                 c.node.Describe().c_str(), ShapeString(c.input(0).dims).c_str(), best_dnnl * 1e3,
                 best_ours * 1e3, sp->usable ? "dnnl" : "ours");
  }
}

}  // namespace

bool DnnlConvAvailable() {
  static const bool on = EnvFlag("ONNXC_DNNL_CONV", true);
  return on;
}

absl::Status DnnlConv(OpContext& c, const KTensor& w, const KTensor* b, const Epilogue& epi,
                      std::shared_ptr<void>* cache_slot, bool* done) {
  *done = false;
  const KTensor& x = c.input(0);
  if (x.type != TP::FLOAT || x.rank() != 4 || w.rank() != 4 || x.numel() == 0) {
    return absl::OkStatus();
  }
  const int64_t C = x.dims[1], M = w.dims[0];
  const int64_t group = c.attr_i("group", 1);
  if (group <= 0 || C % group != 0 || M % group != 0 || w.dims[1] != C / group) {
    return absl::OkStatus();  // the built-in path reports the error
  }
  static const bool dw_too = EnvFlag("ONNXC_DNNL_DW", false);
  if (group > 1 && !(dw_too && group == C && M == C)) return absl::OkStatus();
  static std::mutex init_mu;
  Cache* cache;
  {
    std::lock_guard<std::mutex> l(init_mu);
    if (!*cache_slot) *cache_slot = std::make_shared<Cache>();
    cache = static_cast<Cache*>(cache_slot->get());
  }
  std::shared_ptr<ShapePlan> sp;
  {
    std::lock_guard<std::mutex> l(cache->mu);
    auto it = cache->plans.find(x.dims);
    if (it != cache->plans.end()) {
      sp = it->second;
    } else {
      std::vector<int64_t> in(x.dims.begin() + 2, x.dims.end());
      std::vector<int64_t> kernel(w.dims.begin() + 2, w.dims.end());
      std::vector<int64_t> ks = c.attr_ints("kernel_shape");
      if (!ks.empty() && ks != kernel) return absl::OkStatus();
      auto geo = ComputeGeometry(c, in, kernel);
      if (!geo.ok()) return absl::OkStatus();
      SetOmpThreads(c.threads);  // before the weight reorder's parallel region
      try {
        sp = Build(c, x.dims, w, b, epi, *geo, group);
      } catch (const dnnl::error&) {
        sp = std::make_shared<ShapePlan>();
      }
      static const bool tune = EnvFlag("ONNXC_DNNL_TUNE", true);
      if (sp->usable && tune) {
        Tune(c, sp.get(), w, b, epi);
      }
      cache->plans[x.dims] = sp;
    }
  }
  if (!sp->usable) return absl::OkStatus();
  SetOmpThreads(c.threads);
  KTensor y;
  absl::Status st = Exec(c, *sp, x, &y);
  if (!st.ok()) return st;
  c.out[0] = std::move(y);
  *done = true;
  return absl::OkStatus();
}

#endif  // ONNXC_CONV_DNNL

}  // namespace kernels
}  // namespace onnxc
