// shape-inference: types and shapes for every value (subgraphs too).
//
// Two stages. The common operators are typed in-process by the rules in
// type_rules.cc, in graph order, which costs about a microsecond per node.
// Whatever the rules cannot type (other operators, If/Loop bodies, inputs of
// unknown type, anything unusual) goes to ONNX's own shape inference, which
// runs on just those nodes, exported as a small standalone graph, in a forked
// child (libonnx 1.12 crashes on some malformed nodes). Weights are not
// copied: the proto handed to ONNX carries the data of small tensors only
// (the ones inference reads, such as Reshape's shape).

#include <cstdio>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/util/message_differencer.h"
#include "ir/child_process.h"
#include "ir/export.h"
#include "onnx/defs/schema.h"
#include "onnx/shape_inference/implementation.h"
#include "passes/pass/registry.h"
#include "passes/shape_inference/type_rules.h"

namespace onnxc {
namespace {

google::protobuf::ArenaOptions ArenaOpts() {
  google::protobuf::ArenaOptions o;
  o.start_block_size = 64 << 10;
  o.max_block_size = 4 << 20;
  return o;
}

bool SameType(const onnx::TypeProto& a, const onnx::TypeProto& b) {
  return google::protobuf::util::MessageDifferencer::Equivalent(a, b);
}

// ONNX's checker requires a shape on every tensor type in value_info; an
// inferred type of unknown rank is left out rather than written invalid.
bool Complete(const onnx::TypeProto& t) {
  switch (t.value_case()) {
    case onnx::TypeProto::kTensorType: return t.tensor_type().has_elem_type() && t.tensor_type().has_shape();
    case onnx::TypeProto::kSequenceType: return Complete(t.sequence_type().elem_type());
    case onnx::TypeProto::kOptionalType: return Complete(t.optional_type().elem_type());
    case onnx::TypeProto::kMapType: return Complete(t.map_type().value_type());
    default: return false;
  }
}

// Ranks the graph states for its values (inputs, initializers, value_info),
// chained to the enclosing graph's for subgraphs.
struct RankScope {
  const RankScope* outer = nullptr;
  absl::flat_hash_map<std::string, int> ranks;

  explicit RankScope(const onnx::GraphProto& g, const RankScope* parent) : outer(parent) {
    auto add = [&](const onnx::ValueInfoProto& vi) {
      if (vi.type().has_tensor_type() && vi.type().tensor_type().has_shape())
        ranks[vi.name()] = vi.type().tensor_type().shape().dim_size();
    };
    for (const auto& vi : g.input()) add(vi);
    for (const auto& vi : g.value_info()) add(vi);
    for (const auto& t : g.initializer()) ranks[t.name()] = t.dims_size();
  }
  int Rank(const std::string& name) const {
    for (const RankScope* s = this; s != nullptr; s = s->outer) {
      auto it = s->ranks.find(name);
      if (it != s->ranks.end()) return it->second;
    }
    return -1;
  }
};

// Conv-like ops without kernel_shape take it from the weight's shape, and
// libonnx 1.12 then indexes strides/dilations/pads (sized by the input's
// rank) by the weight's rank: a weight whose rank differs from the input's
// reads past an empty vector (found by fuzzing: a rank-2 input into a 3x3
// Conv). Returns why the node is unsafe, or "" when it is not (or the ranks
// are not known before inference).
std::string ConvRankMismatch(const onnx::NodeProto& n, const RankScope& scope) {
  int x = 0, w = 1;
  if (n.op_type() == "QLinearConv") {
    w = 3;
  } else if (n.op_type() != "Conv" && n.op_type() != "ConvInteger" && n.op_type() != "ConvTranspose") {
    return "";
  }
  for (const auto& a : n.attribute())
    if (a.name() == "kernel_shape") return "";
  if (n.input_size() <= w) return "";
  int xr = scope.Rank(n.input(x)), wr = scope.Rank(n.input(w));
  if (xr < 0 || wr < 0 || xr == wr) return "";
  return absl::StrCat("node '", n.name(), "' (", n.op_type(), "): weight '", n.input(w), "' has rank ", wr,
                      " but input '", n.input(x), "' has rank ", xr, "; they must be equal");
}

// ONNX 1.12's inference functions assume each node fits its schema and can
// crash on one that does not (found by fuzzing: a Scan missing
// num_scan_inputs, a Conv with a stray input, a Conv whose weight rank is not
// its input's). Returns the first node that fails its schema (or
// ConvRankMismatch), with why, or "" when all pass.
std::string FirstInvalidNode(const onnx::GraphProto& g, const std::map<std::string, int>& opsets,
                             const RankScope* outer = nullptr) {
  RankScope scope(g, outer);
  for (const auto& n : g.node()) {
    std::string domain = n.domain() == "ai.onnx" ? "" : n.domain();
    auto it = opsets.find(domain);
    const onnx::OpSchema* schema =
        it == opsets.end() ? nullptr : onnx::OpSchemaRegistry::Schema(n.op_type(), it->second, domain);
    if (schema != nullptr) {
      try {
        schema->Verify(n);
      } catch (const std::exception& e) {
        return absl::StrCat("node '", n.name(), "' (", n.op_type(), "): ", e.what());
      }
      if (domain.empty()) {
        std::string bad = ConvRankMismatch(n, scope);
        if (!bad.empty()) return bad;
      }
    }
    for (const auto& a : n.attribute()) {
      if (a.has_g()) {
        std::string bad = FirstInvalidNode(a.g(), opsets, &scope);
        if (!bad.empty()) return bad;
      }
      for (const auto& sub : a.graphs()) {
        std::string bad = FirstInvalidNode(sub, opsets, &scope);
        if (!bad.empty()) return bad;
      }
    }
  }
  return "";
}

// The part of an inferred graph ApplyTypes reads: value_info and outputs,
// plus, for each node with subgraphs, a NodeProto named by the node's index
// whose attributes hold the bodies' skeletons (in attribute order). Nodes
// themselves are not sent back: the child's reply stays small.
void Skeleton(const onnx::GraphProto& g, onnx::GraphProto* out) {
  *out->mutable_value_info() = g.value_info();
  *out->mutable_output() = g.output();
  for (int k = 0; k < g.node_size(); ++k) {
    const onnx::NodeProto& n = g.node(k);
    onnx::NodeProto* sn = nullptr;
    for (const auto& a : n.attribute()) {
      if (!a.has_g() && a.graphs_size() == 0) continue;
      if (sn == nullptr) {
        sn = out->add_node();
        sn->set_name(absl::StrCat(k));
      }
      onnx::AttributeProto* sa = sn->add_attribute();
      if (a.has_g()) Skeleton(a.g(), sa->mutable_g());
      for (const auto& sub : a.graphs()) Skeleton(sub, sa->add_graphs());
    }
  }
}

// Copies types from `proto` (the skeleton of the inferred graph) onto the IR
// graph; skeleton nodes name the index in `nodes` (the nodes that were
// exported) of the node whose bodies they hold.
int64_t ApplyTypes(const onnx::GraphProto& proto, Graph& graph, const std::vector<const Node*>& nodes,
                   bool overwrite) {
  int64_t changed = 0;
  auto apply = [&](const onnx::ValueInfoProto& vi) {
    if (!vi.has_type() || !Complete(vi.type())) return;
    Value* v = graph.FindLocalValue(vi.name());
    if (v == nullptr) return;
    if (v->has_type() && (!overwrite || SameType(*v->type(), vi.type()))) return;
    v->set_type(vi.type());
    ++changed;
  };
  for (const auto& vi : proto.value_info()) apply(vi);
  for (const auto& vi : proto.output()) apply(vi);
  if (proto.node_size() == 0) return changed;
  int next = 0;  // next skeleton node
  int64_t wanted = -1;
  auto want = [&]() {
    wanted = -1;
    while (next < proto.node_size() && !absl::SimpleAtoi(proto.node(next).name(), &wanted)) ++next;
  };
  want();
  int64_t k = 0;
  for (const Node* n : nodes) {
    if (next >= proto.node_size()) break;
    if (k++ != wanted) continue;
    const onnx::NodeProto& np = proto.node(next++);
    want();
    std::vector<const onnx::GraphProto*> bodies;
    for (const auto& a : np.attribute()) {
      if (a.has_g()) bodies.push_back(&a.g());
      for (const auto& g : a.graphs()) bodies.push_back(&g);
    }
    std::vector<Graph*> subs = n->subgraphs();
    for (size_t i = 0; i < subs.size() && i < bodies.size(); ++i) {
      std::vector<Node*> inner = subs[i]->NodeSnapshot();
      changed += ApplyTypes(*bodies[i], *subs[i], {inner.begin(), inner.end()}, overwrite);
    }
  }
  return changed;
}

// Runs ONNX's shape inference in a child process: libonnx 1.12 crashes on
// some malformed nodes that pass schema verification (fuzzing found
// convTransposeShapeInference), and a bad model must give an error, never a
// crash. The forked child also does the export and the schema check, so the
// parent never holds the exported proto; it writes back only the skeleton of
// the inferred graph (value_info and outputs, see Skeleton), which is parsed
// into `*result`. A node failing its schema is reported in `*invalid`. Only
// `nodes` (of the main graph) are exported, with the values they read.
absl::Status InferIsolated(const Model& model, const std::vector<const Node*>& nodes,
                           const onnx::ShapeInferenceOptions& si, onnx::GraphProto* result,
                           std::string* invalid, Isolation isolation) {
  auto out = RunInChildProcess(
      [&]() -> absl::StatusOr<std::string> {
        // Every proto of the child lives on one arena (never freed in a
        // child: it just exits; freed when run in this process).
        auto* arena = new google::protobuf::Arena(ArenaOpts());
        std::unique_ptr<google::protobuf::Arena> owned(isolation == Isolation::kInProcess ? arena : nullptr);
        auto* proto = google::protobuf::Arena::CreateMessage<onnx::ModelProto>(arena);
        *proto = model.meta();
        proto->clear_graph();
        ExportOptions opts;
        opts.max_tensor_bytes = 64 << 10;
        // Types already on the values but not listed in value_info are not
        // exported: ONNX infers them again, and ApplyTypes keeps existing
        // types unless asked to overwrite.
        opts.inferred_value_info = false;
        opts.initializers_as_inputs = model.meta().ir_version() < 4;
        ExportNodesAsGraph(model.graph(), nodes, proto->mutable_graph(), opts);
        std::map<std::string, int> opsets;
        for (const auto& op : proto->opset_import())
          opsets[op.domain() == "ai.onnx" ? "" : op.domain()] = static_cast<int>(op.version());
        std::string bad = FirstInvalidNode(proto->graph(), opsets);
        if (!bad.empty()) return "V" + bad;
        onnx::shape_inference::InferShapes(*proto, onnx::OpSchemaRegistry::Instance(), si);
        auto* skeleton = google::protobuf::Arena::CreateMessage<onnx::GraphProto>(arena);
        Skeleton(proto->graph(), skeleton);
        std::string bytes = "I";
        skeleton->AppendToString(&bytes);
        return bytes;
      },
      "ONNX shape inference", isolation);
  if (!out.ok()) return out.status();
  if (!out->empty() && (*out)[0] == 'V') {
    *invalid = out->substr(1);
    return absl::OkStatus();
  }
  if (out->empty() || !result->ParseFromArray(out->data() + 1, static_cast<int>(out->size() - 1)))
    return absl::InternalError("ONNX shape inference returned garbage");
  return absl::OkStatus();
}

// Whether the rules may type `n`: a default-domain node without subgraphs
// whose input and output counts fit its ONNX schema (ONNX would reject it
// otherwise, and should be the one to say so), at an opset ONNX 1.12 knows.
class RuleGate {
 public:
  explicit RuleGate(int64_t opset) : opset_(opset) {
    const auto& ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
    auto it = ranges.find("");
    known_opset_ = it != ranges.end() && opset >= 1 && opset <= it->second.second;
  }

  bool Allows(const Node& n) {
    if (!known_opset_ || (!n.domain().empty() && n.domain() != "ai.onnx") || !HasTypeRule(n.op_type()))
      return false;
    for (const Attribute& a : n.attributes())
      if (!a.graphs().empty()) return false;
    auto [it, inserted] = schemas_.try_emplace(n.op_type(), nullptr);
    if (inserted) it->second = onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(opset_), "");
    const onnx::OpSchema* s = it->second;
    return s != nullptr && n.num_inputs() >= s->min_input() && n.num_inputs() <= s->max_input() &&
           n.num_outputs() >= s->min_output() && n.num_outputs() <= s->max_output();
  }

 private:
  int64_t opset_;
  bool known_opset_ = false;
  absl::flat_hash_map<std::string, const onnx::OpSchema*> schemas_;
};

class ShapeInference : public Pass {
 public:
  static constexpr char kName[] = "shape-inference";
  static constexpr char kDescription[] =
      "infers value types and shapes: common ops in-process, the rest with ONNX's shape inference "
      "(subgraphs too)";
  static std::vector<OptionSpec> Options() {
    return {{"strict", OptionSpec::Type::kBool, "false",
             "fail on inference errors instead of leaving those values untyped"},
            {"overwrite", OptionSpec::Type::kBool, "false",
             "replace types the model already declares"},
            {"rules", OptionSpec::Type::kBool, "true",
             "type the common ops in-process (false: ONNX's inference for every node)"}};
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    PassResult r;
    const bool overwrite = options().GetBool("overwrite");
    const bool strict = options().GetBool("strict");
    // Stage 1: the rules, in graph order, so each node sees its inputs'
    // types. Nodes whose outputs are all typed already need nothing.
    const int64_t opset = model.OpsetVersion("");
    RuleGate gate(opset);
    const bool use_rules = options().GetBool("rules");
    std::vector<const Node*> rest;
    std::vector<onnx::TypeProto> types;
    int64_t by_rules = 0;
    for (const auto& up : model.graph().nodes()) {
      Node* n = up.get();
      bool needed = overwrite || !n->subgraphs().empty();
      for (const Value* out : n->outputs()) needed |= out != nullptr && !out->has_type();
      if (!needed) continue;
      if (!use_rules || !gate.Allows(*n) || !InferTypesWithRules(*n, opset, &types)) {
        rest.push_back(n);
        continue;
      }
      for (int i = 0; i < n->num_outputs(); ++i) {
        Value* out = n->output(i);
        if (out == nullptr) continue;
        if (!out->has_type() || (overwrite && !SameType(*out->type(), types[i]))) {
          out->set_type(std::move(types[i]));
          ++r.changes;
        }
      }
      ++by_rules;
    }
    r.notes.push_back(absl::StrCat(by_rules, " nodes typed in-process, ", rest.size(), " left to ONNX"));
    if (rest.empty()) {
      r.notes.push_back(absl::StrCat(r.changes, " values typed"));
      return r;
    }
    // Stage 2: ONNX on the rest.
    onnx::ShapeInferenceOptions si;
    si.check_type = false;
    si.error_mode = strict ? 1 : 0;
    si.enable_data_propagation = false;
    google::protobuf::Arena arena(ArenaOpts());
    onnx::GraphProto& inferred_graph = *google::protobuf::Arena::CreateMessage<onnx::GraphProto>(&arena);
    std::string invalid;
    absl::Status inferred = InferIsolated(model, rest, si, &inferred_graph, &invalid,
                                          ctx.settings ? ctx.settings->isolation : Isolation::kChildProcess);
    if (inferred.ok() && !invalid.empty()) {
      if (strict) return absl::InvalidArgumentError(invalid);
      r.notes.push_back(absl::StrCat("skipped: ", invalid));
      return r;
    }
    if (!inferred.ok()) {
      if (strict) return inferred;
      r.notes.push_back(absl::StrCat("skipped: ", inferred.message()));
      return r;
    }
    r.changes += ApplyTypes(inferred_graph, model.graph(), rest, overwrite);
    r.notes.push_back(absl::StrCat(r.changes, " values typed"));
    return r;
  }
};

ONNXC_REGISTER_PASS(ShapeInference);

}  // namespace
}  // namespace onnxc
