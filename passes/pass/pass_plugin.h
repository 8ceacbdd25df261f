// Pass plugins: shared libraries that add passes to the registry at run time
// (compress --load-pass-plugin=PATH.so, onnxc_load_pass_plugin in the C API),
// as mlir-opt --load-pass-plugin does. A plugin declares the plugin API it
// was built for and registers its passes only when asked, after the version
// check, with one line:
//
//   void RegisterMyPasses(onnxc::PassRegistry& r) { r.Register<MyPass>(); }
//   ONNXC_PASS_PLUGIN("my-passes", "1.0", RegisterMyPasses);
//
// Plugins are built against the installed headers and link nothing: their
// calls resolve against the process that loads them (compress exports its
// symbols; an embedding program links libonnxcompress.so). A loaded plugin is
// never unloaded: its passes' code must outlive the registry's entries.
#ifndef ONNXC_PASSES_PASS_PASS_PLUGIN_H_
#define ONNXC_PASSES_PASS_PASS_PLUGIN_H_

#include <string>

#include "absl/status/status.h"
#include "passes/pass/registry.h"

// Bumped whenever Pass, PassRegistry, PassOptions or the IR change layout.
#define ONNXC_PASS_PLUGIN_API_VERSION 1

namespace onnxc {

struct PassPluginInfo {
  int api_version;  // ONNXC_PASS_PLUGIN_API_VERSION the plugin was built with; first, so any layout can be checked
  const char* name;
  const char* version;
  void (*register_passes)(PassRegistry& registry);
};

// Loads `path` and registers its passes. Fails, naming the file, when it
// cannot be loaded, has no entry point, was built for another API version,
// or registers a name that is taken.
absl::Status LoadPassPlugin(const std::string& path, PassRegistry& registry = PassRegistry::Global());

}  // namespace onnxc

#define ONNXC_PASS_PLUGIN(Name, Version, RegisterFunction)                                                  \
  extern "C" __attribute__((visibility("default"))) const ::onnxc::PassPluginInfo* onnxc_pass_plugin_info() { \
    static const ::onnxc::PassPluginInfo info{ONNXC_PASS_PLUGIN_API_VERSION, Name, Version, RegisterFunction};  \
    return &info;                                                                                            \
  }

#endif  // ONNXC_PASSES_PASS_PASS_PLUGIN_H_
