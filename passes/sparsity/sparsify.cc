// sparsify: N:M structured sparsity (2:4 by default) on the weights of Conv,
// ConvTranspose, Gemm and MatMul, one shot, by magnitude, Wanda or SparseGPT.
// Weight shapes do not change, so nothing around the layers changes.
//
// Groups run along the axis the runtime reduces over: Conv W (K, C/g, kh, kw)
// along C for every (k, r, s), within each group's channels; ConvTranspose W
// (Cin, Cout/g, kh, kw) along Cin; Gemm B along K (axis 0, or 1 with
// transB); MatMul's constant B along axis 0.
//
// Wanda and SparseGPT read the layer-statistics analysis. With
// `sequential=true` (default) layers are taken in dependency levels: a layer's
// statistics are computed on the model whose earlier layers are already
// pruned, as SparseGPT's reference does, at one calibration pass per level.
#include <chrono>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "analysis/layer_statistics/layer_statistics.h"
#include "analysis/output_check.h"
#include "analysis/progress.h"
#include "ir/atomic_file.h"
#include "ir/constants.h"
#include "ir/name_match.h"
#include "passes/pass/registry.h"
#include "passes/sparsity/nm_pattern.h"
#include "passes/sparsity/sparse_gpt.h"
#include "passes/sparsity/sparsity_record.h"
#include "passes/sparsity/sparsity_run_settings.h"

namespace onnxc {
namespace {

int ReductionAxis(const LinearLayer& l) {
  switch (l.kind) {
    case LinearLayer::Kind::kConv: return 1;
    case LinearLayer::Kind::kConvTranspose: return 0;
    case LinearLayer::Kind::kGemm: return l.trans_b ? 1 : 0;
    case LinearLayer::Kind::kMatMul: return 0;
  }
  return 0;
}

double Db(double relative_error) {
  return relative_error > 0 ? -10.0 * std::log10(relative_error) : std::numeric_limits<double>::infinity();
}

// One weight and the layers that read it (several when it is shared).
struct WeightUnit {
  Value* weight = nullptr;
  std::vector<LinearLayer> readers;
  int level = 0;
};

class Sparsify : public Pass {
 public:
  static constexpr char kName[] = "sparsify";
  static constexpr char kDescription[] =
      "N:M structured sparsity (2:4: at most 2 non-zeros in every 4 weights along the reduction axis) on "
      "Conv/ConvTranspose/Gemm/MatMul weights, one shot: magnitude, Wanda (|w| x input norm) or SparseGPT (OBS "
      "updates from the layer-input Gram matrix); shapes do not change; writes a record with bit-packed masks";
  static std::vector<OptionSpec> Options() {
    using T = OptionSpec::Type;
    return {
        {"pattern", T::kString, "2:4", "N:M: at most N non-zeros in every M consecutive weights"},
        {"method", T::kString, "sparsegpt", "magnitude | wanda | sparsegpt (the last two need --calib-data)"},
        {"skip", T::kList, "", "node-name globs to leave dense"},
        {"op-types", T::kList, "[Conv,ConvTranspose,Gemm,MatMul]", "op types to sparsify"},
        {"nvidia-rule", T::kBool, "false", "only layers with outputs % 8 == 0 and input channels % 16 == 0 (ASP)"},
        {"min-params", T::kInt, "0", "leave layers with fewer weights dense"},
        {"samples", T::kInt, "128", "calibration samples for wanda / sparsegpt"},
        {"damp", T::kFloat, "0.01", "SparseGPT damping, fraction of mean(diag H)"},
        {"block", T::kInt, "128", "SparseGPT column block"},
        {"sequential", T::kBool, "true", "statistics of each layer from the model with earlier layers pruned"},
        {"check-samples", T::kInt, "16", "calibration samples to compare outputs before and after on (0: off)"},
    };
  }

  absl::StatusOr<PassResult> Run(Model& model, PassContext& ctx) override {
    auto pattern = NmPattern::Parse(options().GetString("pattern"));
    if (!pattern.ok()) return pattern.status();
    pattern_ = *pattern;
    skipped_.clear();
    method_ = options().GetString("method");
    if (method_ != "magnitude" && method_ != "wanda" && method_ != "sparsegpt")
      return absl::InvalidArgumentError(
          absl::StrCat("sparsify: method '", method_, "' unknown; methods: magnitude, wanda, sparsegpt"));
    const CalibrationSettings& calib = ctx.settings->calibration;
    const bool data_method = method_ != "magnitude";
    if (data_method && (calib.data.empty() || calib.data == "random"))
      return absl::InvalidArgumentError(absl::StrCat(
          "sparsify: method ", method_, " needs calibration data (--calib-data); method=magnitude needs none"));
    const double start = MonotonicSeconds();
    std::unique_ptr<Model> before = model.Clone();  // copy-on-write: weights are shared until rewritten

    PassResult r;
    std::vector<WeightUnit> units = SelectUnits(model);
    AssignLevels(model, &units, data_method && options().GetBool("sequential"));
    int levels = 0;
    for (const WeightUnit& u : units) levels = std::max(levels, u.level + 1);

    ProgressTracker progress(ctx.settings->reporter, "sparsify", "layers", static_cast<int64_t>(units.size()));
    int64_t done = 0, zeros = 0, weights = 0;
    nlohmann::json layers = nlohmann::json::array();
    for (int level = 0; level < levels; ++level) {
      std::unique_ptr<LayerStatistics> stats;
      std::vector<WeightUnit*> here;
      for (WeightUnit& u : units)
        if (u.level == level) here.push_back(&u);
      if (here.empty()) continue;
      if (data_method) {
        LayerStatistics::Settings s;
        s.calibration = calib;
        s.calibration.samples = options().GetInt("samples");
        s.diagonal_only = method_ == "wanda";
        s.channel_pad = pattern_.group;
        for (WeightUnit* u : here)
          for (const LinearLayer& l : u->readers)
            if (l.kind != LinearLayer::Kind::kConvTranspose) s.layers.push_back(l.name());
        if (!s.layers.empty()) {
          auto computed = LayerStatistics::Compute(model, ctx.ForAnalyses(), s);
          if (!computed.ok()) return computed.status();
          stats = std::move(*computed);
        }
      }
      for (WeightUnit* u : here) {
        auto entry = SparsifyUnit(model, *u, stats.get());
        if (!entry.ok()) return entry.status();
        zeros += (*entry)["zeros"].get<int64_t>();
        weights += (*entry)["params"].get<int64_t>();
        layers.push_back(std::move(*entry));
        progress.Update(++done, absl::StrCat("(", u->readers[0].name(), ")"));
      }
    }
    progress.Finish();
    const double seconds = MonotonicSeconds() - start;

    r.changes = static_cast<int64_t>(layers.size());
    r.preserved = r.changes == 0 ? PreservedAnalyses::All() : PreservedAnalyses::None();
    r.notes.insert(r.notes.begin(),
                   absl::StrFormat("%d weights sparsified to %s by %s: %d of %d weights zero (%.1f%%), %.1f s; %d "
                                   "layers left dense%s",
                                   layers.size(), pattern_.ToString(), method_, zeros, weights,
                                   weights ? 100.0 * zeros / weights : 0.0, seconds, skipped_.size(),
                                   skipped_.empty() ? "" : " (reasons below)"));
    for (const auto& l : layers)
      if (l.contains("layer_sqnr_db"))
        r.notes.push_back(absl::StrFormat("%s: %.1f%% zero, layer output SQNR %.1f dB on calibration data",
                                          l["node"].get<std::string>(), 100 * l["sparsity"].get<double>(),
                                          l["layer_sqnr_db"].get<double>()));
    for (const auto& [node, reason] : skipped_) r.notes.push_back(absl::StrCat("dense: ", node, ": ", reason));
    r.details["pattern"] = pattern_.ToString();
    r.details["method"] = method_;
    r.details["layers"] = layers;
    r.details["seconds"] = seconds;
    r.details["levels"] = levels;
    nlohmann::json skipped = nlohmann::json::array();
    for (const auto& [node, reason] : skipped_) skipped.push_back({{"node", node}, {"reason", reason}});
    r.details["skipped"] = skipped;

    int64_t check = options().GetInt("check-samples");
    if (check > 0 && r.changes > 0 && !calib.data.empty()) {
      auto c = CompareModelOutputs(*before, model, calib.data, check, ctx.ForAnalyses().executor);
      if (c.ok()) {
        r.details["output_check"] = c->ToJson();
        for (const OutputCheck::Output& o : c->outputs)
          r.notes.push_back(absl::StrFormat("after sparsify, output %s vs dense: SQNR %.1f dB, cosine %.6f (%d samples)",
                                            o.name, o.worst.sqnr_db, o.worst.cosine, c->samples));
      }
    }
    const auto* run = ctx.settings->families.Find<SparsityRunSettings>();
    if (run != nullptr && !run->record_path.empty() && r.changes > 0) {
      nlohmann::json record = r.details;
      record.erase("output_check");
      absl::Status w = WriteFileAtomically(run->record_path, record.dump(1) + "\n");
      if (!w.ok()) return w;
      r.notes.push_back(absl::StrCat("sparsity record (bit-packed masks): ", run->record_path));
    }
    for (auto& l : r.details["layers"]) l.erase("kept_mask");  // in the record, not the report
    return r;
  }

 private:
  void Skip(const Node* n, const std::string& reason) {
    skipped_.emplace_back(n->name().empty() ? n->op_type() : n->name(), reason);
  }

  // Eligible layers grouped by weight; everything else gets its reason.
  std::vector<WeightUnit> SelectUnits(Model& model) {
    std::vector<std::string> ops = options().GetList("op-types"), skip = options().GetList("skip");
    std::set<std::string> op_set(ops.begin(), ops.end());
    std::map<Value*, WeightUnit> by_weight;
    std::vector<Value*> order;
    std::set<const Node*> eligible;
    for (LinearLayerCandidate& c : FindLinearLayers(model, pattern_.group)) {
      Node* n = c.node;
      if (op_set.count(n->op_type()) == 0) { Skip(n, "op type not in op-types"); continue; }
      if (!c.layer.ok()) {
        Node* p = n->input(1) ? n->input(1)->producer() : nullptr;
        Skip(n, p && p->IsOp("DequantizeLinear")
                    ? "the weight is already quantized (DequantizeLinear): sparsify before quantize"
                    : std::string(c.layer.status().message()));
        continue;
      }
      const LinearLayer& l = *c.layer;
      if (MatchesAny(l.name(), skip)) { Skip(n, "skipped by option"); continue; }
      if (l.groups > 1 && l.channels_per_group == 1) {
        Skip(n, "depthwise conv: each output reads one input channel, there is no group to prune in");
        continue;
      }
      if (l.channels_per_group <= pattern_.keep) {
        Skip(n, absl::StrCat("only ", l.channels_per_group, " input channels per group: already ", pattern_.ToString()));
        continue;
      }
      int64_t params = l.groups * l.outputs_per_group * l.channels_per_group * l.kernel_h * l.kernel_w;
      if (params < options().GetInt("min-params")) {
        Skip(n, absl::StrCat(params, " weights < min-params"));
        continue;
      }
      if (options().GetBool("nvidia-rule") &&
          ((l.groups * l.outputs_per_group) % 8 != 0 || l.channels_per_group % 16 != 0)) {
        Skip(n, absl::StrCat("NVIDIA's rule: outputs ", l.groups * l.outputs_per_group, " % 8 or input channels ",
                             l.channels_per_group, " % 16 is not 0"));
        continue;
      }
      if (l.weight->graph() != &model.graph() && !l.weight->producer()) {
        Skip(n, "the weight is defined outside the main graph");
        continue;
      }
      if (by_weight.count(l.weight) == 0) order.push_back(l.weight);
      by_weight[l.weight].weight = l.weight;
      by_weight[l.weight].readers.push_back(l);
      eligible.insert(n);
    }
    std::vector<WeightUnit> units;
    for (Value* w : order) {
      WeightUnit& u = by_weight[w];
      // A shared weight changes for every reader: all must allow it and read it the same way.
      std::string why;
      if (w->IsGraphOutput()) why = "the weight is also a graph output";
      for (const Use& use : w->uses()) {
        if (!why.empty()) break;
        if (eligible.count(use.node) == 0 || use.index != 1)
          why = absl::StrCat("shared weight, also read by ", use.node->op_type(), " '", use.node->name(),
                             "', which cannot be sparsified");
      }
      for (const LinearLayer& l : u.readers)
        if (why.empty() && (l.kind != u.readers[0].kind || l.trans_b != u.readers[0].trans_b ||
                            l.groups != u.readers[0].groups))
          why = "shared weight read in different layouts";
      if (!why.empty()) {
        for (const LinearLayer& l : u.readers) Skip(l.node, why);
        continue;
      }
      units.push_back(std::move(u));
    }
    return units;
  }

  // Level of a unit: 1 + the deepest unit upstream of any of its readers.
  void AssignLevels(Model& model, std::vector<WeightUnit>* units, bool sequential) {
    if (!sequential) return;
    std::map<const Node*, WeightUnit*> unit_of;
    for (WeightUnit& u : *units)
      for (const LinearLayer& l : u.readers) unit_of[l.node] = &u;
    std::map<const Value*, int> depth;  // units upstream of a value, as a level
    for (Node* n : model.graph().NodeSnapshot()) {
      int in = 0;
      for (Value* v : n->inputs())
        if (v) {
          auto it = depth.find(v);
          if (it != depth.end()) in = std::max(in, it->second);
        }
      auto u = unit_of.find(n);
      if (u != unit_of.end()) u->second->level = std::max(u->second->level, in);
      int out = u != unit_of.end() ? in + 1 : in;
      for (Value* v : n->outputs())
        if (v) depth[v] = out;
    }
  }

  absl::StatusOr<nlohmann::json> SparsifyUnit(Model& model, const WeightUnit& u, const LayerStatistics* stats) {
    const LinearLayer& first = u.readers[0];
    auto tensor = first.ReadWeight(model);
    if (!tensor.ok()) return tensor.status();
    std::vector<Eigen::MatrixXd> w = first.ToMatrices(*tensor);
    auto padding = [&](int64_t f) { return first.IsPadding(f); };
    std::string method = method_;
    // The readers' Gram matrices add: the summed output error of all readers.
    std::vector<Eigen::MatrixXd> h;
    if (stats != nullptr)
      for (const LinearLayer& l : u.readers) {
        auto it = stats->layers.find(l.name());
        if (it == stats->layers.end()) continue;
        if (h.empty()) h = it->second.gram;
        else
          for (size_t g = 0; g < h.size(); ++g) h[g] += it->second.gram[g];
      }
    if (method != "magnitude" && h.empty()) method = "magnitude";  // ConvTranspose: no input patches
    double err = 0, ref = 0, werr = 0, wref = 0;
    for (size_t g = 0; g < w.size(); ++g) {
      Eigen::MatrixXd original = w[g];
      if (method == "sparsegpt") {
        SparseGptSettings s;
        s.damp = options().GetFloat("damp");
        s.block = options().GetInt("block");
        auto mask = SparseGptPrune(&w[g], h[g], pattern_, padding, s);
        if (!mask.ok()) return absl::Status(mask.status().code(), absl::StrCat(first.name(), ": ", mask.status().message()));
      } else {
        Eigen::MatrixXd scores = w[g].cwiseAbs();
        if (method == "wanda") {
          // Wanda asks for the diagonal only: a features x 1 matrix.
          Eigen::VectorXd norms = (h[g].cols() == 1 ? h[g].col(0) : Eigen::VectorXd(h[g].diagonal())).cwiseSqrt();
          scores = scores * norms.asDiagonal();
        }
        Mask mask = SelectMask(scores, pattern_, padding);
        w[g] = mask.select(w[g], 0.0);
      }
      werr += (original - w[g]).squaredNorm();
      wref += original.squaredNorm();
      if (!h.empty() && h[g].cols() == h[g].rows()) {
        Eigen::MatrixXd delta = original - w[g];
        err += (delta * h[g]).cwiseProduct(delta).sum();
        ref += (original * h[g]).cwiseProduct(original).sum();
      }
    }
    Tensor out = *tensor;
    first.FromMatrices(w, &out);
    int64_t zeros = 0;
    for (float x : out.span<float>()) zeros += x == 0.0f;
    nlohmann::json e;
    e["node"] = first.name();
    e["op_type"] = first.node->op_type();
    e["weight"] = u.weight->name();
    e["readers"] = static_cast<int64_t>(u.readers.size());
    e["axis"] = ReductionAxis(first);
    e["shape"] = first.weight_dims;
    e["method"] = method;
    e["params"] = out.num_elements();
    e["zeros"] = zeros;
    e["sparsity"] = out.num_elements() ? static_cast<double>(zeros) / out.num_elements() : 0.0;
    e["weight_sqnr_db"] = Db(wref > 0 ? werr / wref : 0);
    if (ref > 0) e["layer_sqnr_db"] = Db(err / ref);
    e["level"] = u.level;
    e["kept_mask"] = PackKeptMask(out);
    WriteWeight(model, u, std::move(out));
    return e;
  }

  // In place when the weight is an initializer; a Constant node's weight
  // becomes an initializer (the Constant is erased once unread).
  void WriteWeight(Model& model, const WeightUnit& u, Tensor t) {
    Value* w = u.weight;
    if (w->has_initializer()) {
      *w->mutable_initializer() = std::move(t);
      return;
    }
    Graph& g = *u.readers[0].node->graph();
    Value* v = AddConstant(model, g, w->name() + "_sparse", std::move(t));
    for (const LinearLayer& l : u.readers) l.node->SetInput(1, v);
    Node* constant = w->producer();
    if (constant != nullptr && !w->IsUsed()) g.EraseNode(constant);
  }

  NmPattern pattern_;
  std::string method_;
  std::vector<std::pair<std::string, std::string>> skipped_;
};

ONNXC_REGISTER_PASS(Sparsify);

}  // namespace
}  // namespace onnxc
