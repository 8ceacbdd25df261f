// GraphStatistics: node counts by op type, parameter counts and bytes, for
// the report and for passes that pick targets (largest layers first, etc.).
#ifndef ONNXC_ANALYSIS_GRAPH_STATISTICS_H_
#define ONNXC_ANALYSIS_GRAPH_STATISTICS_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "analysis/analysis_manager.h"

namespace onnxc {

struct GraphStatistics : Analysis {
  static constexpr char kName[] = "graph-statistics";
  using Settings = NoSettings;
  static absl::StatusOr<std::unique_ptr<GraphStatistics>> Compute(Model& model, const AnalysisContext& ctx,
                                                                  const Settings& settings);

  int64_t nodes = 0;      // subgraphs included
  int64_t subgraphs = 0;
  int64_t initializers = 0;
  int64_t parameters = 0;       // elements in initializers
  int64_t parameter_bytes = 0;  // bytes in initializers
  std::map<std::string, int64_t> op_counts;  // "Conv", "com.microsoft.Foo", ...
  std::map<std::string, int64_t> bytes_by_type;  // "FLOAT", "INT8", ...

  nlohmann::json ToJson() const;
};

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_GRAPH_STATISTICS_H_
