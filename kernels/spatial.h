// Shared geometry of Conv and pooling: kernel, strides, dilations, pads and
// output sizes from ONNX attributes (auto_pad included).
#ifndef ONNXC_KERNELS_SPATIAL_H_
#define ONNXC_KERNELS_SPATIAL_H_

#include <cstdint>
#include <vector>

#include "kernels/registry.h"

namespace onnxc {
namespace kernels {

struct Geometry {
  int64_t nd = 0;  // spatial rank
  std::vector<int64_t> in, kernel, strides, dilations, pad_begin, pad_end, out;
};

// `in`: spatial input dims; `kernel`: spatial kernel dims.
inline absl::StatusOr<Geometry> ComputeGeometry(const OpContext& c, const std::vector<int64_t>& in,
                                                const std::vector<int64_t>& kernel,
                                                bool ceil_mode = false) {
  Geometry g;
  g.nd = static_cast<int64_t>(in.size());
  g.in = in;
  g.kernel = kernel;
  if (static_cast<int64_t>(kernel.size()) != g.nd) return c.Error("kernel rank does not match input");
  g.strides = c.attr_ints("strides");
  if (g.strides.empty()) g.strides.assign(g.nd, 1);
  g.dilations = c.attr_ints("dilations");
  if (g.dilations.empty()) g.dilations.assign(g.nd, 1);
  std::vector<int64_t> pads = c.attr_ints("pads");
  if (pads.empty()) pads.assign(2 * g.nd, 0);
  if (static_cast<int64_t>(g.strides.size()) != g.nd || static_cast<int64_t>(g.dilations.size()) != g.nd ||
      static_cast<int64_t>(pads.size()) != 2 * g.nd) {
    return c.Error("strides/dilations/pads do not match the spatial rank");
  }
  std::string auto_pad = c.attr_s("auto_pad", "NOTSET");
  g.pad_begin.resize(g.nd);
  g.pad_end.resize(g.nd);
  g.out.resize(g.nd);
  for (int64_t i = 0; i < g.nd; ++i) {
    int64_t ek = (kernel[i] - 1) * g.dilations[i] + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t o = (in[i] + g.strides[i] - 1) / g.strides[i];
      int64_t total = std::max<int64_t>(0, (o - 1) * g.strides[i] + ek - in[i]);
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[i] = total - g.pad_begin[i];
      g.out[i] = o;
    } else {
      if (auto_pad == "VALID") {
        g.pad_begin[i] = g.pad_end[i] = 0;
      } else {
        g.pad_begin[i] = pads[i];
        g.pad_end[i] = pads[i + g.nd];
      }
      int64_t span = in[i] + g.pad_begin[i] + g.pad_end[i] - ek;
      if (span < 0) return c.Error("kernel larger than padded input");
      if (ceil_mode) {
        g.out[i] = (span + g.strides[i] - 1) / g.strides[i] + 1;
        // The last window must start inside the input or left padding.
        if ((g.out[i] - 1) * g.strides[i] >= in[i] + g.pad_begin[i]) --g.out[i];
      } else {
        g.out[i] = span / g.strides[i] + 1;
      }
    }
  }
  return g;
}

}  // namespace kernels
}  // namespace onnxc

#endif  // ONNXC_KERNELS_SPATIAL_H_
