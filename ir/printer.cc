#include "ir/printer.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace onnxc {
namespace {

std::string TypeString(const Value* v) {
  auto shape = v->shape();
  std::string t = v->elem_type() == onnx::TensorProto::UNDEFINED ? "?" : DataTypeName(v->elem_type());
  if (!shape) return t;
  std::vector<std::string> dims;
  for (int64_t d : *shape) dims.push_back(d < 0 ? "?" : absl::StrCat(d));
  return absl::StrCat(t, "[", absl::StrJoin(dims, ","), "]");
}

std::string AttrString(const Attribute& a) {
  const auto& p = a.proto();
  switch (a.type()) {
    case onnx::AttributeProto::INT: return absl::StrCat(p.i());
    case onnx::AttributeProto::FLOAT: return absl::StrCat(p.f());
    case onnx::AttributeProto::STRING: return absl::StrCat("\"", p.s(), "\"");
    case onnx::AttributeProto::INTS: return absl::StrCat("[", absl::StrJoin(p.ints(), ","), "]");
    case onnx::AttributeProto::FLOATS: return absl::StrCat("[", absl::StrJoin(p.floats(), ","), "]");
    case onnx::AttributeProto::TENSOR:
      return absl::StrCat("tensor<", DataTypeName(static_cast<DataType>(p.t().data_type())), "[",
                          absl::StrJoin(p.t().dims(), ","), "]>");
    case onnx::AttributeProto::GRAPH: return "graph";
    case onnx::AttributeProto::GRAPHS: return "graphs";
    default: return "...";
  }
}

}  // namespace

std::string PrintGraph(const Graph& graph, int indent) {
  std::string pad(indent, ' ');
  std::string out;
  std::vector<std::string> ins;
  for (const Value* v : graph.inputs()) ins.push_back(absl::StrCat("%", v->name(), ": ", TypeString(v)));
  absl::StrAppend(&out, pad, "graph ", graph.name(), "(", absl::StrJoin(ins, ", "), ") {\n");
  for (const Value* v : graph.initializers())
    if (!v->is_graph_input())
      absl::StrAppend(&out, pad, "  %", v->name(), ": ", TypeString(v), " = initializer\n");
  for (const auto& n : graph.nodes()) {
    std::vector<std::string> outs, args, attrs;
    for (const Value* v : n->outputs()) outs.push_back(v ? absl::StrCat("%", v->name()) : "_");
    for (const Value* v : n->inputs()) args.push_back(v ? absl::StrCat("%", v->name()) : "_");
    for (const Attribute& a : n->attributes()) attrs.push_back(absl::StrCat(a.name(), "=", AttrString(a)));
    absl::StrAppend(&out, pad, "  ", absl::StrJoin(outs, ", "), " = ",
                    n->domain().empty() ? "" : absl::StrCat(n->domain(), "."), n->op_type(), "(",
                    absl::StrJoin(args, ", "), ")");
    if (!attrs.empty()) absl::StrAppend(&out, " {", absl::StrJoin(attrs, ", "), "}");
    if (!n->name().empty()) absl::StrAppend(&out, "  # ", n->name());
    absl::StrAppend(&out, "\n");
    for (const Graph* sub : n->subgraphs()) absl::StrAppend(&out, PrintGraph(*sub, indent + 4));
  }
  std::vector<std::string> outs;
  for (const Value* v : graph.outputs()) outs.push_back(absl::StrCat("%", v->name()));
  absl::StrAppend(&out, pad, "  return ", absl::StrJoin(outs, ", "), "\n", pad, "}\n");
  return out;
}

std::string PrintModel(const Model& model) {
  std::vector<std::string> opsets;
  for (const auto& op : model.meta().opset_import())
    opsets.push_back(absl::StrCat(op.domain().empty() ? "ai.onnx" : op.domain(), ":", op.version()));
  return absl::StrCat("# ir_version ", model.ir_version(), ", opsets ", absl::StrJoin(opsets, ", "),
                      "\n", PrintGraph(model.graph()));
}

}  // namespace onnxc
