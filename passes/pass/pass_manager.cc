#include "passes/pass/pass_manager.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/numbers.h"

namespace onnxc {
namespace {

constexpr int kMaxPipelineDepth = 16;

// Runs up to twice per pass, so it must stay cheap: the list size is O(1), and
// only nodes with attributes are looked at for subgraphs (no allocation,
// unlike Node::subgraphs()).
int64_t CountGraphNodes(const Graph& g) {
  int64_t n = g.num_nodes();
  for (const auto& node : g.nodes()) {
    for (const Attribute& a : node->attributes())
      for (const auto& sub : a.graphs()) n += CountGraphNodes(*sub);
  }
  return n;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int64_t CountNodes(const Model& model) { return CountGraphNodes(model.graph()); }

absl::StatusOr<std::unique_ptr<PassManager>> PassManager::Create(const std::string& pipeline,
                                                                 const PassRegistry& registry) {
  auto elements = ParsePipeline(pipeline);
  if (!elements.ok()) return elements.status();
  auto pm = std::unique_ptr<PassManager>(new PassManager());
  pm->elements_ = std::move(*elements);
  absl::Status s = Build(pm->elements_, registry, 0, &pm->stages_);
  if (!s.ok()) return s;
  return pm;
}

absl::Status PassManager::Build(const std::vector<PipelineElement>& elements,
                                const PassRegistry& reg, int depth, std::vector<Stage>* out) {
  if (depth > kMaxPipelineDepth)
    return absl::InvalidArgumentError("pipeline nests too deeply (a named pipeline includes itself?)");
  for (const PipelineElement& e : elements) {
    Stage stage;
    if (e.name == "fixed-point") {
      stage.kind = Stage::kFixedPoint;
      for (const auto& [k, v] : e.options) {
        if (k != "max-iterations" || !absl::SimpleAtoi(v, &stage.max_iterations) ||
            stage.max_iterations < 1)
          return absl::InvalidArgumentError(absl::StrCat(
              "fixed-point takes one option, max-iterations=N (N >= 1); got '", k, "=", v, "'"));
      }
      if (!e.has_children || e.children.empty())
        return absl::InvalidArgumentError("fixed-point needs passes in parentheses: fixed-point(a,b)");
      absl::Status s = Build(e.children, reg, depth + 1, &stage.children);
      if (!s.ok()) return s;
    } else if (const PassInfo* info = reg.Find(e.name); info != nullptr && !info->pipeline.empty()) {
      if (!e.options.empty() || e.has_children)
        return absl::InvalidArgumentError(absl::StrCat(
            "'", e.name, "' is a named pipeline (", info->pipeline, ") and takes no options"));
      stage.kind = Stage::kSequence;
      auto inner = ParsePipeline(info->pipeline);
      if (!inner.ok()) return inner.status();
      absl::Status s = Build(*inner, reg, depth + 1, &stage.children);
      if (!s.ok()) return s;
    } else {
      if (e.has_children)
        return absl::InvalidArgumentError(absl::StrCat("pass '", e.name, "' takes no (children)"));
      auto pass = reg.Create(e.name, e.options);
      if (!pass.ok()) return pass.status();
      stage.pass = std::move(*pass);
    }
    out->push_back(std::move(stage));
  }
  return absl::OkStatus();
}

void PassManager::AddInstrumentation(std::unique_ptr<PassInstrumentation> inst) {
  instrumentation_.push_back(std::move(inst));
}

absl::Status PassManager::Run(Model& model, PassContext ctx) {
  AnalysisManager* analyses = ctx.analyses != nullptr ? ctx.analyses : &analyses_;
  ctx.analyses = analyses;
  RunSettings default_settings;
  if (ctx.settings == nullptr) ctx.settings = &default_settings;
  TypedMap state;
  if (ctx.state == nullptr) ctx.state = &state;
  analyses->set_listener([this](const std::string& name, double seconds) {
    analysis_runs_.emplace_back(name, seconds);
    for (auto& inst : instrumentation_) inst->OnAnalysis(name, seconds);
  });
  count_cache_ = CountCache();
  auto result = RunStages(stages_, model, ctx, 0);
  count_cache_ = CountCache();
  analyses->set_listener(nullptr);
  return result.status();
}

absl::StatusOr<int64_t> PassManager::RunStages(std::vector<Stage>& stages, Model& model,
                                               PassContext& ctx, int iteration) {
  int64_t total = 0;
  for (Stage& stage : stages) {
    absl::StatusOr<int64_t> changes;
    switch (stage.kind) {
      case Stage::kPass:
        changes = RunPass(*stage.pass, model, ctx, iteration);
        break;
      case Stage::kSequence:
        changes = RunStages(stage.children, model, ctx, iteration);
        break;
      case Stage::kFixedPoint: {
        int64_t sum = 0;
        for (int i = 1; i <= stage.max_iterations; ++i) {
          auto round = RunStages(stage.children, model, ctx, i);
          if (!round.ok()) return round.status();
          sum += *round;
          if (*round == 0) break;
        }
        changes = sum;
        break;
      }
    }
    if (!changes.ok()) return changes.status();
    total += *changes;
  }
  return total;
}

absl::StatusOr<int64_t> PassManager::RunPass(Pass& pass, Model& model, PassContext& ctx,
                                             int iteration) {
  for (auto& inst : instrumentation_) inst->BeforePass(pass, model);
  PassRecord record;
  record.pass = pass.name();
  record.spelling = pass.Spelling();
  record.iteration = iteration;
  const CountCache& cached = count_cache_;
  record.nodes_before = cached.model == &model && cached.records == records_.size()
                            ? cached.nodes
                            : CountNodes(model);
  double start = Now();
  absl::StatusOr<PassResult> result = pass.Run(model, ctx);
  record.seconds = Now() - start;
  if (!result.ok()) {
    absl::Status error(result.status().code(),
                       absl::StrCat("pass '", pass.Spelling(), "' failed: ", result.status().message()));
    for (auto& inst : instrumentation_) inst->OnFailure(pass, model, error);
    return error;
  }
  ctx.analyses->Invalidate(result->changes == 0 ? PreservedAnalyses::All() : result->preserved);
  record.changes = result->changes;
  record.notes = std::move(result->notes);
  record.details = std::move(result->details);
  // A pass reporting no change left the model as it was (the analyses are
  // kept on the same promise above).
  record.nodes_after = result->changes == 0 ? record.nodes_before : CountNodes(model);
  records_.push_back(record);
  count_cache_ = CountCache{&model, records_.size(), record.nodes_after};
  for (auto& inst : instrumentation_) {
    absl::Status s = inst->AfterPass(pass, model, records_.back());
    if (!s.ok()) {
      absl::Status error(s.code(), absl::StrCat("after pass '", pass.Spelling(), "': ", s.message()));
      for (auto& i2 : instrumentation_) i2->OnFailure(pass, model, error);
      return error;
    }
  }
  return record.changes;
}

nlohmann::json PassManager::ReportJson() const {
  nlohmann::json j;
  j["pipeline"] = PipelineString();
  j["passes"] = nlohmann::json::array();
  double total = 0;
  for (const PassRecord& r : records_) {
    nlohmann::json p;
    p["pass"] = r.pass;
    p["spelling"] = r.spelling;
    if (r.iteration > 0) p["iteration"] = r.iteration;
    p["changes"] = r.changes;
    p["seconds"] = r.seconds;
    p["nodes_before"] = r.nodes_before;
    p["nodes_after"] = r.nodes_after;
    p["notes"] = r.notes;
    if (!r.details.empty()) p["details"] = r.details;
    j["passes"].push_back(std::move(p));
    total += r.seconds;
  }
  j["total_pass_seconds"] = total;
  nlohmann::json analyses = nlohmann::json::array();
  for (const auto& [name, seconds] : analysis_runs_)
    analyses.push_back({{"analysis", name}, {"seconds", seconds}});
  j["analyses_computed"] = analyses;
  return j;
}

std::string PassManager::Summary() const {
  std::string out;
  for (const PassRecord& r : records_) {
    absl::StrAppend(&out, r.spelling, r.iteration ? absl::StrCat(" [round ", r.iteration, "]") : "",
                    ": ", r.changes, r.changes == 1 ? " change" : " changes", ", nodes ",
                    r.nodes_before, " -> ", r.nodes_after, absl::StrFormat(" (%.1f ms)", r.seconds * 1e3));
    if (!r.notes.empty()) absl::StrAppend(&out, "\n    ", absl::StrJoin(r.notes, "\n    "));
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace onnxc
