// Analysis results cached across passes (MLIR's model): a pass asks for an
// analysis; the manager computes it once and keeps it until a pass that does
// not declare it preserved changes the model.
//
// An analysis type A derives from Analysis and provides
//   static constexpr char kName[] = "...";
//   static absl::StatusOr<std::unique_ptr<A>> Compute(Model&, PassContext&);
#ifndef ONNXC_PASSES_ANALYSIS_MANAGER_H_
#define ONNXC_PASSES_ANALYSIS_MANAGER_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/model.h"

namespace onnxc {

struct PassContext;

class Analysis {
 public:
  virtual ~Analysis() = default;
};

// Which cached analyses survive a pass.
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
  absl::StatusOr<A*> Get(Model& model, PassContext& ctx) {
    auto it = cache_.find(A::kName);
    if (it != cache_.end()) return static_cast<A*>(it->second.get());
    double start = Now();
    absl::StatusOr<std::unique_ptr<A>> result = A::Compute(model, ctx);
    if (!result.ok()) return result.status();
    A* raw = result->get();
    cache_[A::kName] = std::move(*result);
    ++compute_counts_[A::kName];
    if (listener_) listener_(A::kName, Now() - start);
    return raw;
  }

  template <typename A>
  A* GetCached() const {
    auto it = cache_.find(A::kName);
    return it == cache_.end() ? nullptr : static_cast<A*>(it->second.get());
  }

  // Stores a result computed elsewhere (a pass's decisions for later passes),
  // replacing any cached one.
  template <typename A>
  void Put(std::unique_ptr<A> result) {
    cache_[A::kName] = std::move(result);
  }

  // Drops every cached analysis `preserved` does not name.
  void Invalidate(const PreservedAnalyses& preserved);
  void Clear() { cache_.clear(); }
  std::vector<std::string> CachedNames() const;
  // How many times each analysis was computed in this manager's lifetime.
  const std::map<std::string, int>& compute_counts() const { return compute_counts_; }
  void set_listener(Listener l) { listener_ = std::move(l); }

 private:
  static double Now();
  std::map<std::string, std::unique_ptr<Analysis>> cache_;
  std::map<std::string, int> compute_counts_;
  Listener listener_;
};

}  // namespace onnxc

#endif  // ONNXC_PASSES_ANALYSIS_MANAGER_H_
