#include "passes/quantization/channel_scaling.h"

#include <limits>

#include "ir/constants.h"

namespace onnxc {

bool CommutesWithChannelScaling(const Model& model, const Node* n, bool channels_on_axis_1, bool* finite_clip) {
  *finite_clip = false;
  if (n->num_outputs() != 1) return false;
  if (n->IsOp("Relu") || n->IsOp("LeakyRelu")) return true;
  if (n->IsOp("MaxPool") || n->IsOp("AveragePool") || n->IsOp("GlobalAveragePool") || n->IsOp("GlobalMaxPool"))
    return channels_on_axis_1;
  if (n->IsOp("PRelu")) return n->input(1) && GetConstant(model, n->input(1)).has_value();
  if (!n->IsOp("Clip")) return false;
  double lo = n->GetFloat("min", -std::numeric_limits<float>::max());
  double hi = n->GetFloat("max", std::numeric_limits<float>::max());
  if (n->num_inputs() > 1 && n->input(1)) {
    auto t = GetConstant(model, n->input(1));
    if (!t) return false;
    lo = t->ScalarAt(0);
  }
  if (n->num_inputs() > 2 && n->input(2)) {
    auto t = GetConstant(model, n->input(2));
    if (!t) return false;
    hi = t->ScalarAt(0);
  }
  if (lo != 0) return false;
  *finite_clip = hi < std::numeric_limits<float>::max();
  return true;
}

}  // namespace onnxc
