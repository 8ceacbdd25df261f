#include "analysis/analysis_manager.h"

#include <chrono>

namespace onnxc {

void AnalysisManager::Invalidate(const PreservedAnalyses& preserved) {
  if (preserved.all()) return;
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (preserved.IsPreserved(it->first.first)) ++it;
    else it = cache_.erase(it);
  }
}

std::vector<std::string> AnalysisManager::CachedNames() const {
  std::vector<std::string> out;
  for (const auto& kv : cache_) out.push_back(kv.first.first);
  return out;
}

double AnalysisManager::Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace onnxc
