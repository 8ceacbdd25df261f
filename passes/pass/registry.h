// The pass registry: the project's only global state. A pass registers
// itself with one line at the bottom of its own .cc file:
//
//   ONNXC_REGISTER_PASS(DeadCodeElimination);
//
// where the class provides kName, kDescription and Options(). Named
// pipelines (e.g. "optimize") register the same way.
#ifndef ONNXC_PASSES_PASS_REGISTRY_H_
#define ONNXC_PASSES_PASS_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "passes/pass/pass.h"

namespace onnxc {

struct PassInfo {
  std::string name;
  std::string description;
  std::vector<OptionSpec> options;
  std::function<std::unique_ptr<Pass>()> factory;
  std::string pipeline;  // non-empty for a named pipeline
};

class PassRegistry {
 public:
  static PassRegistry& Global();

  template <typename P>
  bool Register() {
    PassInfo info;
    info.name = P::kName;
    info.description = P::kDescription;
    info.options = P::Options();
    info.factory = [] { return std::unique_ptr<Pass>(new P()); };
    return Add(std::move(info));
  }
  bool RegisterPipeline(const std::string& name, const std::string& description,
                        const std::string& pipeline);

  const PassInfo* Find(const std::string& name) const;
  // A pass instance with checked options.
  absl::StatusOr<std::unique_ptr<Pass>> Create(
      const std::string& name, std::vector<std::pair<std::string, std::string>> options) const;
  std::vector<const PassInfo*> List() const;
  // --list-passes text: every pass and pipeline with its options.
  std::string Describe() const;

  // Runs a plugin's registration function (pass_plugin.h). A name that is
  // already taken is an error naming `plugin`, not the abort a duplicate
  // built-in registration is.
  absl::Status RegisterFromPlugin(const std::string& plugin, void (*register_passes)(PassRegistry&));

 private:
  bool Add(PassInfo info);
  // Guards passes_ (plugins may be loaded while other threads run pipelines;
  // entries are never removed, so pointers into the map stay valid).
  mutable absl::Mutex mu_;
  std::map<std::string, PassInfo> passes_ ABSL_GUARDED_BY(mu_);
  std::string loading_plugin_ ABSL_GUARDED_BY(mu_);  // set while a plugin registers
  std::vector<std::string> plugin_errors_ ABSL_GUARDED_BY(mu_);
};

#define ONNXC_REGISTER_PASS(Class) \
  static const bool onnxc_registered_##Class = ::onnxc::PassRegistry::Global().Register<Class>()

#define ONNXC_REGISTER_PIPELINE(Id, Name, Description, Text) \
  static const bool onnxc_registered_pipeline_##Id =         \
      ::onnxc::PassRegistry::Global().RegisterPipeline(Name, Description, Text)

}  // namespace onnxc

#endif  // ONNXC_PASSES_PASS_REGISTRY_H_
