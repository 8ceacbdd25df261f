#include "ir/verifier.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "ir/child_process.h"
#include "ir/export.h"
#include "onnx/shape_inference/implementation.h"
#include "onnx/checker.h"

namespace onnxc {
namespace {

bool Visible(const Value* v, const Graph* from) {
  for (const Graph* g = from; g != nullptr; g = g->parent())
    if (v->graph() == g) return true;
  return false;
}

}  // namespace

absl::Status VerifyGraph(const Graph& graph) {
  auto fail = [&](const std::string& msg) {
    return absl::InternalError(absl::StrCat("graph '", graph.name(), "': ", msg));
  };
  absl::flat_hash_map<const Node*, int64_t> position;
  int64_t pos = 0;
  for (const auto& n : graph.nodes()) position[n.get()] = pos++;
  for (const auto& np : graph.nodes()) {
    const Node* n = np.get();
    if (n->graph() != &graph) return fail(absl::StrCat(n->Describe(), " has a wrong graph link"));
    for (int i = 0; i < n->num_inputs(); ++i) {
      const Value* v = n->input(i);
      if (v == nullptr) continue;
      if (!Visible(v, &graph))
        return fail(absl::StrCat(n->Describe(), " input ", i, " '", v->name(),
                                 "' is not visible from this graph"));
      bool found = false;
      for (const Use& u : v->uses())
        if (u.node == n && u.index == i) found = true;
      if (!found)
        return fail(absl::StrCat("value '", v->name(), "' does not list its use by ", n->Describe()));
      if (v->producer() != nullptr && v->producer()->graph() == &graph) {
        auto it = position.find(v->producer());
        if (it == position.end() || it->second >= position[n])
          return fail(absl::StrCat(n->Describe(), " reads '", v->name(), "' before it is produced"));
      }
    }
    for (int i = 0; i < n->num_outputs(); ++i) {
      const Value* v = n->output(i);
      if (v == nullptr) continue;
      if (v->producer() != n || v->output_index() != i)
        return fail(absl::StrCat("output ", i, " '", v->name(), "' of ", n->Describe(),
                                 " does not name it as producer"));
      if (graph.FindLocalValue(v->name()) != v)
        return fail(absl::StrCat("value '", v->name(), "' is not registered under its name"));
      for (const Use& u : v->uses()) {
        if (u.node->input(u.index) != v)
          return fail(absl::StrCat("value '", v->name(), "' lists a stale use"));
      }
    }
    for (const Graph* sub : n->subgraphs()) {
      if (sub->parent_node() != n) return fail(absl::StrCat(n->Describe(), " has a subgraph with a wrong parent"));
      absl::Status s = VerifyGraph(*sub);
      if (!s.ok()) return s;
    }
  }
  for (const Value* v : graph.inputs()) {
    if (graph.FindLocalValue(v->name()) != v)
      return fail(absl::StrCat("graph input '", v->name(), "' is shadowed or unregistered"));
  }
  for (const Value* v : graph.outputs()) {
    if (!Visible(v, &graph)) return fail(absl::StrCat("graph output '", v->name(), "' is not visible"));
    if (v->producer() == nullptr && !v->is_graph_input() && !v->has_initializer() &&
        !v->is_sparse_initializer())
      return fail(absl::StrCat("graph output '", v->name(), "' is never defined"));
  }
  return absl::OkStatus();
}

absl::Status VerifyModel(const Model& model) { return VerifyGraph(model.graph()); }

absl::Status CheckWithOnnx(const Model& model, bool* ran, Isolation isolation) {
  if (ran != nullptr) *ran = false;
  if (model.ir_version() > kCheckerMaxIrVersion || model.OpsetVersion("") > kCheckerMaxOpset)
    return absl::OkStatus();
  // Weights are left out: the checker reads shapes and types, not values, and
  // copying every weight would double peak memory on large models.
  ExportOptions options;
  options.max_tensor_bytes = 1024;
  // The checker, then ONNX's shape inference with strict type checking (what
  // its Python full_check does): a model whose node gets a type its schema
  // does not allow (QuantizeLinear on float16 before opset 19) is refused,
  // as ONNX Runtime would refuse it. In a child process: libonnx 1.12's
  // inference crashes on some malformed models.
  auto checked = RunInChildProcess(
      [&]() -> absl::StatusOr<std::string> {
        onnx::ModelProto proto = ExportModel(model, options);
        onnx::checker::check_model(proto);
        onnx::ShapeInferenceOptions strict{/*check_type=*/true, /*error_mode=*/1, /*enable_data_propagation=*/false};
        onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(), strict);
        return std::string();
      },
      "ONNX's checker", isolation);
  if (!checked.ok()) return absl::InvalidArgumentError(absl::StrCat("ONNX checker: ", checked.status().message()));
  if (ran != nullptr) *ran = true;
  return absl::OkStatus();
}

}  // namespace onnxc
