// Run settings of the sparsity family (RunSettings::families): where
// sparsify writes its record. compress sets <output>.sparsity_record.json.
#ifndef ONNXC_PASSES_SPARSITY_SPARSITY_RUN_SETTINGS_H_
#define ONNXC_PASSES_SPARSITY_SPARSITY_RUN_SETTINGS_H_

#include <string>

namespace onnxc {

struct SparsityRunSettings {
  std::string record_path;
};

}  // namespace onnxc

#endif  // ONNXC_PASSES_SPARSITY_SPARSITY_RUN_SETTINGS_H_
