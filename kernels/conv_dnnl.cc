// Fused Conv (+bias [+residual] +Relu/Clip) through oneDNN's convolution
// primitive (in the default build; -DONNXC_CONV_DNNL, see BUILD). The
// primitive, its weights reordered into the layout oneDNN picks and the
// activation reorders are cached per input shape and layout in the plan's
// fused step, so steady-state runs only execute. Inputs may arrive in a
// oneDNN layout (nChw8c or nChw16c) and, when the executor allows it, the result stays
// in it, so chains of convs pay no reorders (only the model input and the
// region's exits are reordered). A folded Add is a `sum` post-op: the
// residual is copied (or reordered) into the destination first, or the
// destination is the residual's own buffer when that is its last use.
//
// Settings (KernelOptions, only in a -DONNXC_CONV_DNNL build): dnnl
// (off: the built-in conv), dnnl_layout (default by CPU: nChw16c with AVX-512, nChw8c with AVX2; kAny: oneDNN's
// choice; kPlain makes oneDNN run im2col+gemm), dnnl_tune (on the first run
// of a shape with plain input and no residual, time oneDNN with its reorders
// against the built-in conv and keep the faster one), dnnl_depthwise,
// dnnl_tune_log, dnnl_split_flops (see Build).
#include "kernels/registry.h"

#ifdef ONNXC_CONV_DNNL
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>

#include "kernels/dnnl_common.h"
#include "kernels/spatial.h"
#endif

namespace onnxc {
namespace kernels {

#ifndef ONNXC_CONV_DNNL

bool DnnlConvAvailable(const KernelOptions&) { return false; }
absl::Status DnnlConv(OpContext&, const KTensor&, const KTensor*, const Epilogue&,
                      const ConvResidual&, bool, std::shared_ptr<void>*, bool* done) {
  *done = false;
  return absl::OkStatus();
}

#else

namespace {

using dnnl_util::Desc;
using dnnl_util::Engine;
using dnnl_util::Scratch;
using dnnl_util::Stream;

// One primitive over a slice of the batch or of the output channels; the
// slices of a conv run on the executor's threads, each with a one-thread
// oneDNN (see Threading in Build).
struct Part {
  dnnl::convolution_forward conv;
  dnnl::memory weights, bias;
  dnnl::memory::desc src_md, dst_md;
  size_t src_off = 0, dst_off = 0;  // bytes into the whole src / dst
};

struct ShapePlan {
  bool usable = false;  // false: oneDNN has no good implementation, use ours
  std::vector<Part> parts;
  dnnl::memory::desc x_md, src_md;    // the input as given / as the conv reads it
  dnnl::memory::desc dst_md, out_md;  // the conv's result / what we hand out
  dnnl::memory::desc res_md;          // the residual as given
  int out_layout = 0;
  bool reorder_src = false, reorder_dst = false, reorder_res = false;
  dnnl::reorder src_reorder, dst_reorder, res_reorder;
  std::vector<int64_t> odims;
};

// Input dims, input block, residual block (-1: none), blocked output allowed.
using Key = std::tuple<std::vector<int64_t>, int, int, bool>;

struct Cache {
  std::mutex mu;
  std::map<Key, std::shared_ptr<ShapePlan>> plans;
};

std::shared_ptr<ShapePlan> Build(const KernelOptions& options, const KTensor& x, const KTensor& w, const KTensor* b,
                                 const Epilogue& epi, const ConvResidual& res, bool blocked_out,
                                 const Geometry& g, int64_t group, int threads) {
  using dnnl::memory;
  using tag = memory::format_tag;
  auto sp = std::make_shared<ShapePlan>();
  const int64_t N = x.dims[0], M = w.dims[0];
  memory::dims src_dims(x.dims.begin(), x.dims.end());
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
  const tag wplain = group == 1 ? (g.nd == 1 ? tag::oiw : g.nd == 2 ? tag::oihw : tag::oidhw)
                                : (g.nd == 1 ? tag::goiw : g.nd == 2 ? tag::goihw : tag::goidhw);
  // Activation layout: nChw16c (ORT's NCHWc too). oneDNN's own choice
  // (ONNXC_DNNL_LAYOUT=any) is channels last for brgconv on AVX-512: as fast
  // on resnet18, as fast to 20% slower on mobilenet_v2 at batch 8 across
  // runs (BENCHMARK.md).
  const int forced = [&] {
    switch (options.dnnl_layout) {
      case KernelOptions::Layout::kPlain: return 0;
      case KernelOptions::Layout::kNhwc: return 1;
      case KernelOptions::Layout::kBlocked8: return 8;
      case KernelOptions::Layout::kBlocked16: return 16;
      case KernelOptions::Layout::kByCpu: return KernelOptions::CpuChannelBlock();
      default: return -1;
    }
  }();
  auto f32 = memory::data_type::f32;
  auto act = [&](const memory::dims& d, bool is_src) {
    // A few input channels (the RGB stem) stay as oneDNN likes them.
    if (forced < 0 || (is_src && forced > 1 && d[1] < 8)) return memory::desc(d, f32, tag::any);
    return Desc(std::vector<int64_t>(d.begin(), d.end()), forced);
  };
  memory::desc src_any = act(src_dims, true);
  memory::desc dst_any = act(dst_dims, false);
  memory::desc w_any(w_dims, f32, tag::any);
  memory::desc b_md({M}, f32, tag::x);
  dnnl::post_ops po;
  if (res.t != nullptr) po.append_sum(1.f);
  if (epi.kind == Epilogue::kClamp) {
    if (epi.lo == 0.f && std::isinf(epi.hi) && epi.hi > 0) {
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    } else {
      po.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, epi.lo, epi.hi);
    }
  } else if (epi.kind == Epilogue::kSwish) {
    po.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, 1.f, 0.f);  // x * sigmoid(1 * x)
  }
  dnnl::primitive_attr attr;
  attr.set_post_ops(po);
  auto make_pd = [&](const memory::desc& src, const memory::desc& wt, const memory::desc& bias,
                     const memory::desc& dst) {
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                      dnnl::algorithm::convolution_direct, src, wt, bias, dst,
                                      strides, dil, pl, pr);
    return dnnl::convolution_forward::primitive_desc(d, attr, Engine());
  };
  auto is_ref = [](const dnnl::convolution_forward::primitive_desc& p) {
    return std::string(p.impl_info_str()).find("ref") != std::string::npos;
  };
  dnnl::convolution_forward::primitive_desc pd = make_pd(src_any, w_any, b_md, dst_any);
  if (is_ref(pd)) return sp;  // reference loops: too slow
  auto& eng = Engine();
  dnnl::stream& s = Stream();
  const float* bias_src = b != nullptr ? b->ptr<float>() : nullptr;
  // Weights (output channels [m0, m0 + mn) of them) into `md`, once.
  auto load_weights = [&](Part* part, const memory::desc& md, int64_t m0, int64_t mn) {
    memory::dims wd = w_dims;
    wd[0] = mn;  // o (dense) or g (depthwise: one channel per group)
    const int64_t per = w.numel() / M;
    memory w_user(memory::desc(wd, f32, wplain), eng,
                  const_cast<float*>(w.ptr<float>() + m0 * per));
    part->weights = memory(md, eng);
    dnnl::reorder(w_user, part->weights).execute(s, w_user, part->weights);
    part->bias = memory(memory::desc({mn}, f32, tag::x), eng);
    float* bp = static_cast<float*>(part->bias.get_data_handle());
    for (int64_t i = 0; i < mn; ++i) bp[i] = bias_src != nullptr ? bias_src[m0 + i] : 0.f;
  };
  sp->odims.assign(dst_dims.begin(), dst_dims.end());
  sp->x_md = Desc(x);
  sp->src_md = pd.src_desc();
  sp->dst_md = pd.dst_desc();
  sp->reorder_src = sp->src_md != sp->x_md;
  // Hand out the conv's own result if it is plain, or blocked and allowed.
  int dst_layout = dnnl_util::LayoutOf(sp->dst_md, sp->odims);
  sp->reorder_dst = dst_layout < 0 || (dst_layout > 0 && !blocked_out);
  sp->out_layout = sp->reorder_dst ? 0 : dst_layout;
  sp->out_md = Desc(sp->odims, sp->out_layout);
  if (sp->reorder_src) {
    sp->src_reorder = dnnl::reorder(dnnl::reorder::primitive_desc(eng, sp->x_md, eng, sp->src_md));
  }
  if (sp->reorder_dst) {
    sp->dst_reorder =
        dnnl::reorder(dnnl::reorder::primitive_desc(eng, sp->dst_md, eng, sp->out_md));
  }
  if (res.t != nullptr) {
    sp->res_md = Desc(*res.t);
    sp->reorder_res = sp->res_md != sp->dst_md;
    if (sp->reorder_res) {
      sp->res_reorder =
          dnnl::reorder(dnnl::reorder::primitive_desc(eng, sp->res_md, eng, sp->dst_md));
    }
  }
  // Threading: oneDNN runs one OpenMP thread (libgomp's spinning barrier
  // costs a whole time slice per parallel region when the machine is
  // oversubscribed: mobilenet_v2 b1 at 2 threads went from 6 to 75-370 ms,
  // resnet18 to 150 ms, while other builds ran). Convs worth ~20 us or
  // more are split instead into one primitive per executor thread, over the
  // batch or, for one image in a plain or blocked result, over blocks of 16
  // output channels (whole 8- or 16-channel blocks) (depthwise: of input channels too); those slices are
  // contiguous in memory.
  const double kSplitFlops = options.dnnl_split_flops;
  double flops = 2.0 * N * M * (x.dims[1] / group);
  for (size_t i = 2; i < w.dims.size(); ++i) flops *= static_cast<double>(w.dims[i]);
  for (int64_t o : g.out) flops *= static_cast<double>(o);
  const int sl = dnnl_util::LayoutOf(sp->src_md, x.dims), dl = dst_layout;
  const bool dw = group > 1;
  const int64_t src_image = sp->src_md.get_size() / N, dst_image = sp->dst_md.get_size() / N;
  int64_t in_plane = 1, out_plane = 1;
  for (size_t i = 2; i < x.dims.size(); ++i) in_plane *= x.dims[i];
  for (int64_t o : g.out) out_plane *= o;
  std::vector<std::pair<int64_t, int64_t>> slices;  // [begin, size) of the split axis
  bool by_batch = false;
  // Not plain in and out: oneDNN runs those as im2col + gemm, whose parts
  // crashed when run side by side (resnet18 at batch 8, ONNXC_DNNL_LAYOUT=nchw).
  const bool gemm_conv = sl == 0 && dl == 0;
  if (threads > 1 && flops >= kSplitFlops && sl >= 0 && dl >= 0 && !gemm_conv) {
    if (N >= threads) {
      by_batch = true;
      for (int t = 0; t < threads; ++t) {
        int64_t b0 = N * t / threads, b1 = N * (t + 1) / threads;
        if (b1 > b0) slices.push_back({b0, b1 - b0});
      }
    } else if (N == 1 && dl >= 8 && (!dw || sl >= 8) && M >= 32) {
      const int64_t blocks = (M + 15) / 16;
      const int64_t parts = std::min<int64_t>(threads, blocks);
      for (int64_t t = 0; t < parts; ++t) {
        int64_t c0 = std::min(M, blocks * t / parts * 16);
        int64_t c1 = std::min(M, blocks * (t + 1) / parts * 16);
        if (c1 > c0) slices.push_back({c0, c1 - c0});
      }
    }
  }
  bool split = slices.size() > 1;
  if (split) {
    try {
      for (auto [b0, bn] : slices) {
        Part part;
        memory::dims sd = src_dims, dd = dst_dims, wd = w_dims;
        if (by_batch) {
          sd[0] = dd[0] = bn;
        } else {
          dd[1] = bn;
          if (dw) {
            sd[1] = bn;
            wd[0] = bn;
          } else {
            wd[0] = bn;
          }
        }
        part.src_md = Desc(std::vector<int64_t>(sd.begin(), sd.end()), sl);
        part.dst_md = Desc(std::vector<int64_t>(dd.begin(), dd.end()), dl);
        auto ppd = make_pd(part.src_md, memory::desc(wd, f32, tag::any),
                           memory::desc({dd[1]}, f32, tag::x), part.dst_md);
        if (is_ref(ppd) || ppd.src_desc() != part.src_md || ppd.dst_desc() != part.dst_md) {
          split = false;
          break;
        }
        if (by_batch) {
          load_weights(&part, ppd.weights_desc(), 0, M);
          part.src_off = b0 * src_image;
          part.dst_off = b0 * dst_image;
        } else {
          load_weights(&part, ppd.weights_desc(), b0, bn);
          part.src_off = dw ? b0 * in_plane * sizeof(float) : 0;
          part.dst_off = b0 * out_plane * sizeof(float);
        }
        part.conv = dnnl::convolution_forward(ppd);
        sp->parts.push_back(std::move(part));
      }
    } catch (const dnnl::error&) {
      split = false;
    }
  }
  if (!split) {
    sp->parts.clear();
    Part part;
    part.src_md = sp->src_md;
    part.dst_md = sp->dst_md;
    load_weights(&part, pd.weights_desc(), 0, M);
    part.conv = dnnl::convolution_forward(pd);
    sp->parts.push_back(std::move(part));
  }
  s.wait();
  sp->usable = true;
  return sp;
}

absl::Status Exec(OpContext& c, const ShapePlan& sp, const KTensor& x, const ConvResidual& res,
                  KTensor* out) {
  auto& eng = Engine();
  dnnl::stream& stream = Stream();
  KTensor y;
  try {
    dnnl::memory src(sp.x_md, eng, const_cast<void*>(x.data));
    if (sp.reorder_src) {
      dnnl::memory given = src;
      src = dnnl::memory(sp.src_md, eng, Scratch(0, sp.src_md.get_size()));
      sp.src_reorder.execute(stream, given, src);
    }
    // The residual's own buffer becomes the result when that is allowed.
    const bool alias = res.t != nullptr && res.writable && !sp.reorder_res && !sp.reorder_dst;
    dnnl::memory dst;
    if (sp.reorder_dst) {
      dst = dnnl::memory(sp.dst_md, eng, Scratch(1, sp.dst_md.get_size()));
    } else {
      y = alias ? *res.t : KTensor::Alloc(TP::FLOAT, sp.odims, sp.out_layout);
      y.layout = sp.out_layout;
      dst = dnnl::memory(sp.dst_md, eng, y.data);
    }
    if (res.t != nullptr && !alias) {
      dnnl::memory r(sp.res_md, eng, const_cast<void*>(res.t->data));
      if (sp.reorder_res) {
        sp.res_reorder.execute(stream, r, dst);
      } else {
        std::memcpy(dst.get_data_handle(), res.t->data, sp.dst_md.get_size());
      }
    }
    stream.wait();
    char* src_base = static_cast<char*>(src.get_data_handle());
    char* dst_base = static_cast<char*>(dst.get_data_handle());
    std::atomic<bool> failed{false};
    auto run = [&](int64_t begin, int64_t end) {
      dnnl_util::SetOmpThreads(1);
      try {
        dnnl::stream& st = Stream();
        for (int64_t i = begin; i < end; ++i) {
          const Part& p = sp.parts[i];
          dnnl::memory s(p.src_md, eng, src_base + p.src_off);
          dnnl::memory d(p.dst_md, eng, dst_base + p.dst_off);
          p.conv.execute(st, {{DNNL_ARG_SRC, s},
                              {DNNL_ARG_WEIGHTS, p.weights},
                              {DNNL_ARG_BIAS, p.bias},
                              {DNNL_ARG_DST, d}});
        }
        st.wait();
      } catch (const dnnl::error&) {
        failed = true;
      }
    };
    const int64_t parts = static_cast<int64_t>(sp.parts.size());
    if (parts == 1) {
      run(0, 1);
    } else {
      ParallelFor(c.threads, parts, run);
    }
    if (failed) return c.Error("oneDNN conv failed");
    if (sp.reorder_dst) {
      y = KTensor::Alloc(TP::FLOAT, sp.odims);
      dnnl::memory o(sp.out_md, eng, y.data);
      sp.dst_reorder.execute(stream, dst, o);
    }
    stream.wait();
  } catch (const dnnl::error& e) {
    return c.Error(absl::StrCat("oneDNN conv: ", e.what()));
  }
  *out = std::move(y);
  return absl::OkStatus();
}

// Best of 3 runs of each: keeps oneDNN only where it is faster.
void Tune(OpContext& c, ShapePlan* sp, const KTensor& w, const KTensor* b, const Epilogue& epi) {
  using clk = std::chrono::steady_clock;
  double best_dnnl = 1e30, best_ours = 1e30;
  for (int i = 0; i < 4; ++i) {
    KTensor out;
    auto t0 = clk::now();
    if (!Exec(c, *sp, c.input(0), ConvResidual(), &out).ok()) {
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
  if (c.options->dnnl_tune_log) {
    std::fprintf(stderr, "dnnl-tune %s x%s: dnnl %.3f ms ours %.3f ms -> %s\n",
                 c.node.Describe().c_str(), ShapeString(c.input(0).dims).c_str(), best_dnnl * 1e3,
                 best_ours * 1e3, sp->usable ? "dnnl" : "ours");
  }
}

}  // namespace

bool DnnlConvAvailable(const KernelOptions& options) { return options.dnnl; }

absl::Status DnnlConv(OpContext& c, const KTensor& w, const KTensor* b, const Epilogue& epi,
                      const ConvResidual& res, bool blocked_out, std::shared_ptr<void>* cache_slot,
                      bool* done) {
  *done = false;
  const KTensor& x = c.input(0);
  if (x.type != TP::FLOAT || x.rank() != 4 || w.rank() != 4 || w.type != TP::FLOAT ||
      x.numel() == 0) {
    return absl::OkStatus();
  }
  const int64_t C = x.dims[1], M = w.dims[0];
  const int64_t group = c.attr_i("group", 1);
  if (group <= 0 || C % group != 0 || M % group != 0 || w.dims[1] != C / group) {
    return absl::OkStatus();  // the built-in path reports the error
  }
  if (group > 1 && !(c.options->dnnl_depthwise && group == C && M == C)) return absl::OkStatus();
  static std::mutex init_mu;
  Cache* cache;
  {
    std::lock_guard<std::mutex> l(init_mu);
    if (!*cache_slot) *cache_slot = std::make_shared<Cache>();
    cache = static_cast<Cache*>(cache_slot->get());
  }
  Key key(x.dims, x.layout, res.t != nullptr ? res.t->layout : -1, blocked_out);
  std::shared_ptr<ShapePlan> sp;
  {
    std::lock_guard<std::mutex> l(cache->mu);
    auto it = cache->plans.find(key);
    if (it != cache->plans.end()) {
      sp = it->second;
    } else {
      std::vector<int64_t> in(x.dims.begin() + 2, x.dims.end());
      std::vector<int64_t> kernel(w.dims.begin() + 2, w.dims.end());
      std::vector<int64_t> ks = c.attr_ints("kernel_shape");
      if (!ks.empty() && ks != kernel) return absl::OkStatus();
      auto geo = ComputeGeometry(c, in, kernel);
      if (!geo.ok()) return absl::OkStatus();
      dnnl_util::SetOmpThreads(1);  // before the weight reorders (see Build)
      try {
        sp = Build(*c.options, x, w, b, epi, res, blocked_out, *geo, group, c.threads);
      } catch (const dnnl::error&) {
        sp = std::make_shared<ShapePlan>();
      }
      if (sp->usable && c.options->dnnl_tune && x.layout == 0 && res.t == nullptr) {
        Tune(c, sp.get(), w, b, epi);
      }
      cache->plans[key] = sp;
    }
  }
  if (!sp->usable) return absl::OkStatus();
  if (res.t != nullptr && res.t->dims != sp->odims) return absl::OkStatus();
  dnnl_util::SetOmpThreads(1);
  KTensor y;
  absl::Status st = Exec(c, *sp, x, res, &y);
  if (!st.ok()) return st;
  c.out[0] = std::move(y);
  *done = true;
  return absl::OkStatus();
}

#endif  // ONNXC_CONV_DNNL

}  // namespace kernels
}  // namespace onnxc
