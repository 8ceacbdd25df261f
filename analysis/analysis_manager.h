// Analysis results cached across passes (MLIR's model): a pass asks for an
// analysis; the manager computes it once and keeps it until a pass that does
// not declare it preserved changes the model.
//
// An analysis type A derives from Analysis and provides
//   static constexpr char kName[] = "...";
//   struct Settings { ...; std::string CacheKey() const; };  // or: using Settings = NoSettings;
//   static absl::StatusOr<std::unique_ptr<A>> Compute(Model&, const AnalysisContext&, const Settings&);
//
// The cache key is the analysis type plus Settings::CacheKey(): two passes
// asking with different settings get two results; asking twice with the same
// settings computes once.
#ifndef ONNXC_ANALYSIS_ANALYSIS_MANAGER_H_
#define ONNXC_ANALYSIS_ANALYSIS_MANAGER_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/progress.h"
#include "ir/model.h"
#include "kernels/executor.h"

namespace onnxc {

class AnalysisManager;

class Analysis {
 public:
  virtual ~Analysis() = default;
};

// For analyses whose result depends on the model alone.
struct NoSettings {
  std::string CacheKey() const { return ""; }
};

// What an analysis may use besides the model: other analyses, the kernels'
// settings (threads, oneDNN), and where to report progress and notes.
struct AnalysisContext {
  AnalysisManager* analyses = nullptr;
  ExecutorOptions executor;  // threads and kernel settings for every run
  Reporter reporter;         // progress bars and notes (silent by default)
};

// Which cached analyses survive a pass (by analysis name, whatever settings).
class PreservedAnalyses {
 public:
  static PreservedAnalyses All() { PreservedAnalyses p; p.all_ = true; return p; }
  static PreservedAnalyses None() { return PreservedAnalyses(); }
  template <typename A> PreservedAnalyses& Preserve() { names_.insert(A::kName); return *this; }
  PreservedAnalyses& Preserve(const std::string& name) { names_.insert(name); return *this; }
  bool IsPreserved(const std::string& name) const { return all_ || names_.count(name) > 0; }
  bool all() const { return all_; }

 private:
  bool all_ = false;
  std::set<std::string> names_;
};

class AnalysisManager {
 public:
  // Called after each computation (name, seconds): instrumentation hooks in.
  using Listener = std::function<void(const std::string&, double)>;

  template <typename A>
  absl::StatusOr<A*> Get(Model& model, const AnalysisContext& ctx, const typename A::Settings& settings = {}) {
    Key key{A::kName, settings.CacheKey()};
    auto it = cache_.find(key);
    if (it != cache_.end()) return static_cast<A*>(it->second.get());
    double start = Now();
    AnalysisContext inner = ctx;
    inner.analyses = this;
    absl::StatusOr<std::unique_ptr<A>> result = A::Compute(model, inner, settings);
    if (!result.ok()) return result.status();
    A* raw = result->get();
    cache_[key] = std::move(*result);
    ++compute_counts_[A::kName];
    if (listener_) listener_(A::kName, Now() - start);
    return raw;
  }

  template <typename A>
  A* GetCached(const typename A::Settings& settings = {}) const {
    auto it = cache_.find(Key{A::kName, settings.CacheKey()});
    return it == cache_.end() ? nullptr : static_cast<A*>(it->second.get());
  }

  // Every cached result of analysis A, whatever its settings, in key order.
  template <typename A>
  std::vector<A*> CachedOfType() const {
    std::vector<A*> out;
    for (const auto& [key, result] : cache_)
      if (key.first == A::kName) out.push_back(static_cast<A*>(result.get()));
    return out;
  }

  // Drops every cached analysis `preserved` does not name.
  void Invalidate(const PreservedAnalyses& preserved);
  void Clear() { cache_.clear(); }
  // Names of the cached analyses, one per cached result.
  std::vector<std::string> CachedNames() const;
  // How many times each analysis was computed in this manager's lifetime.
  const std::map<std::string, int>& compute_counts() const { return compute_counts_; }
  void set_listener(Listener l) { listener_ = std::move(l); }

 private:
  using Key = std::pair<std::string, std::string>;  // analysis name, settings
  static double Now();
  std::map<Key, std::unique_ptr<Analysis>> cache_;
  std::map<std::string, int> compute_counts_;
  Listener listener_;
};

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_ANALYSIS_MANAGER_H_
