#include "passes/quantization/fake_quant.h"

#include <optional>
#include <vector>

#include "ir/constants.h"
#include "ir/rewrite.h"
#include "passes/quantization/quant_params.h"

namespace onnxc {

void FoldConstantDequantize(Model& model) {
  Graph& g = model.graph();
  for (Node* n : g.NodeSnapshot()) {
    if (!n->IsOp("DequantizeLinear")) continue;
    std::optional<Tensor> x = GetConstant(model, n->input(0)), s = GetConstant(model, n->input(1));
    std::optional<Tensor> z = n->input(2) ? GetConstant(model, n->input(2)) : std::nullopt;
    if (!x || !s || (n->input(2) && !z)) continue;
    QuantizedWeight q;
    q.data = *x;
    q.axis = s->num_elements() > 1 ? static_cast<int>(n->GetInt("axis", 1)) : -1;
    if (q.axis < 0 && s->num_elements() > 1) q.axis += static_cast<int>(x->rank());
    for (int64_t i = 0; i < s->num_elements(); ++i) {
      q.scales.push_back(static_cast<float>(s->ScalarAt(i)));
      q.zero_points.push_back(z ? static_cast<int32_t>(z->ScalarAt(i)) : 0);
    }
    Value* f = AddConstant(model, g, n->output(0)->name() + "_fake_quant", Dequantize(q));
    if (BypassNode(g, n, f)) continue;
  }
  std::vector<Value*> dead;
  for (Value* v : g.initializers())
    if (!v->IsUsed() && !v->is_graph_input()) dead.push_back(v);
  for (Value* v : dead) g.RemoveInitializer(v);
}

}  // namespace onnxc
