#include "passes/pass/pass_plugin.h"

#include <dlfcn.h>

#include "absl/strings/str_cat.h"

namespace onnxc {

absl::Status LoadPassPlugin(const std::string& path, PassRegistry& registry) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return absl::InvalidArgumentError(absl::StrCat("pass plugin ", path, ": cannot load: ", why ? why : "unknown error"));
  }
  using InfoFn = const PassPluginInfo* (*)();
  auto info_fn = reinterpret_cast<InfoFn>(dlsym(handle, "onnxc_pass_plugin_info"));
  if (info_fn == nullptr) {
    dlclose(handle);
    return absl::InvalidArgumentError(absl::StrCat(
        "pass plugin ", path, ": no entry point onnxc_pass_plugin_info (declare it with ONNXC_PASS_PLUGIN)"));
  }
  const PassPluginInfo* info = info_fn();
  if (info == nullptr || info->api_version != ONNXC_PASS_PLUGIN_API_VERSION) {
    const int got = info == nullptr ? -1 : info->api_version;
    dlclose(handle);
    return absl::FailedPreconditionError(absl::StrCat("pass plugin ", path, ": built for plugin API version ", got,
                                                      ", this onnxcompress has version ", ONNXC_PASS_PLUGIN_API_VERSION,
                                                      "; rebuild the plugin against these headers"));
  }
  if (info->register_passes == nullptr)
    return absl::InvalidArgumentError(absl::StrCat("pass plugin ", path, ": no registration function"));
  // Kept loaded even on failure: passes it registered before the failure point into it.
  return registry.RegisterFromPlugin(absl::StrCat(path, " (", info->name ? info->name : "unnamed", ")"),
                                     info->register_passes);
}

}  // namespace onnxc
