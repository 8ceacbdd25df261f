#include "passes/pass/registry.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace onnxc {

PassRegistry& PassRegistry::Global() {
  static PassRegistry* registry = new PassRegistry();
  return *registry;
}

bool PassRegistry::Add(PassInfo info) {
  absl::MutexLock lock(&mu_);
  if (passes_.count(info.name)) {
    if (!loading_plugin_.empty()) {
      plugin_errors_.push_back(absl::StrCat("pass plugin ", loading_plugin_, ": a pass named '", info.name,
                                            "' is already registered"));
      return false;
    }
    std::fprintf(stderr, "internal error: pass '%s' registered twice\n", info.name.c_str());
    std::abort();  // two built-in passes with one name: a build error, never input
  }
  std::string name = info.name;
  passes_.emplace(name, std::move(info));
  return true;
}

absl::Status PassRegistry::RegisterFromPlugin(const std::string& plugin, void (*register_passes)(PassRegistry&)) {
  static absl::Mutex loading;  // one plugin registers at a time
  absl::MutexLock one_at_a_time(&loading);
  {
    absl::MutexLock lock(&mu_);
    loading_plugin_ = plugin;
    plugin_errors_.clear();
  }
  register_passes(*this);
  absl::MutexLock lock(&mu_);
  loading_plugin_.clear();
  if (!plugin_errors_.empty()) return absl::AlreadyExistsError(absl::StrJoin(plugin_errors_, "; "));
  return absl::OkStatus();
}

bool PassRegistry::RegisterPipeline(const std::string& name, const std::string& description,
                                    const std::string& pipeline) {
  PassInfo info;
  info.name = name;
  info.description = description;
  info.pipeline = pipeline;
  return Add(std::move(info));
}

const PassInfo* PassRegistry::Find(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = passes_.find(name);
  return it == passes_.end() ? nullptr : &it->second;
}

absl::StatusOr<std::unique_ptr<Pass>> PassRegistry::Create(
    const std::string& name, std::vector<std::pair<std::string, std::string>> options) const {
  const PassInfo* info = Find(name);
  if (info == nullptr || !info->factory) {
    std::vector<std::string> names;
    for (const PassInfo* p : List()) names.push_back(p->name);
    return absl::InvalidArgumentError(absl::StrCat("unknown pass '", name,
                                                   "'; known: ", absl::StrJoin(names, ", ")));
  }
  auto opts = PassOptions::Create(name, info->options, std::move(options));
  if (!opts.ok()) return opts.status();
  std::unique_ptr<Pass> pass = info->factory();
  pass->name_ = name;
  pass->options_ = std::move(*opts);
  return pass;
}

std::vector<const PassInfo*> PassRegistry::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<const PassInfo*> out;
  for (const auto& kv : passes_) out.push_back(&kv.second);
  return out;
}

std::string PassRegistry::Describe() const {
  std::string out;
  for (const PassInfo* p : List()) {
    absl::StrAppend(&out, "  ", p->name, "\n      ", p->description, "\n");
    if (!p->pipeline.empty()) absl::StrAppend(&out, "      = ", p->pipeline, "\n");
    for (const auto& o : p->options) {
      absl::StrAppend(&out, "      ", o.name, " (", OptionTypeName(o.type), ", default '",
                      o.default_value, "'): ", o.help, "\n");
    }
  }
  absl::StrAppend(&out, "  fixed-point{max-iterations=10}(...)\n"
                        "      runs the passes in parentheses until none of them changes the model\n");
  return out;
}

std::string Pass::Spelling() const {
  if (options_.given().empty()) return name_;
  std::vector<std::string> kv;
  for (const auto& [k, v] : options_.given()) kv.push_back(absl::StrCat(k, "=", v));
  return absl::StrCat(name_, "{", absl::StrJoin(kv, ","), "}");
}

}  // namespace onnxc
