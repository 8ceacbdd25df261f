#include "passes/pass/pass_options.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace onnxc {
namespace {

bool ParseBool(const std::string& s, bool* out) {
  if (s == "true" || s == "1" || s == "on") { *out = true; return true; }
  if (s == "false" || s == "0" || s == "off") { *out = false; return true; }
  return false;
}

absl::Status CheckValue(const std::string& pass, const OptionSpec& spec, const std::string& v) {
  bool ok = true;
  switch (spec.type) {
    case OptionSpec::Type::kBool: { bool b; ok = ParseBool(v, &b); break; }
    case OptionSpec::Type::kInt: { int64_t i; ok = absl::SimpleAtoi(v, &i); break; }
    case OptionSpec::Type::kFloat: { double d; ok = absl::SimpleAtod(v, &d); break; }
    default: break;
  }
  if (!ok)
    return absl::InvalidArgumentError(absl::StrCat("pass '", pass, "': option '", spec.name, "=", v,
                                                   "' is not a valid ", OptionTypeName(spec.type)));
  return absl::OkStatus();
}

}  // namespace

std::string OptionTypeName(OptionSpec::Type t) {
  switch (t) {
    case OptionSpec::Type::kBool: return "bool";
    case OptionSpec::Type::kInt: return "int";
    case OptionSpec::Type::kFloat: return "float";
    case OptionSpec::Type::kString: return "string";
    case OptionSpec::Type::kList: return "list";
  }
  return "?";
}

absl::StatusOr<PassOptions> PassOptions::Create(
    const std::string& pass_name, const std::vector<OptionSpec>& specs,
    std::vector<std::pair<std::string, std::string>> given) {
  PassOptions o;
  o.specs_ = specs;
  for (const auto& [key, value] : given) {
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == key) spec = &s;
    if (spec == nullptr) {
      std::vector<std::string> known;
      for (const auto& s : specs) known.push_back(s.name);
      return absl::InvalidArgumentError(absl::StrCat(
          "pass '", pass_name, "' has no option '", key, "'",
          known.empty() ? " (it takes none)" : absl::StrCat("; it takes: ", absl::StrJoin(known, ", "))));
    }
    absl::Status s = CheckValue(pass_name, *spec, value);
    if (!s.ok()) return s;
  }
  o.given_ = std::move(given);
  return o;
}

bool PassOptions::Has(const std::string& name) const {
  for (const auto& kv : given_)
    if (kv.first == name) return true;
  return false;
}

const std::string& PassOptions::Text(const std::string& name) const {
  for (auto it = given_.rbegin(); it != given_.rend(); ++it)
    if (it->first == name) return it->second;
  for (const auto& s : specs_)
    if (s.name == name) return s.default_value;
  std::fprintf(stderr, "internal error: undeclared pass option '%s'\n", name.c_str());
  std::abort();
}

bool PassOptions::GetBool(const std::string& name) const {
  bool b = false;
  ParseBool(Text(name), &b);
  return b;
}

int64_t PassOptions::GetInt(const std::string& name) const {
  int64_t i = 0;
  (void)absl::SimpleAtoi(Text(name), &i);
  return i;
}

double PassOptions::GetFloat(const std::string& name) const {
  double d = 0;
  (void)absl::SimpleAtod(Text(name), &d);
  return d;
}

std::string PassOptions::GetString(const std::string& name) const { return Text(name); }

std::vector<std::string> PassOptions::GetList(const std::string& name) const {
  absl::string_view t = Text(name);
  if (absl::ConsumePrefix(&t, "[")) absl::ConsumeSuffix(&t, "]");
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(t, ',', absl::SkipWhitespace()))
    out.emplace_back(absl::StripAsciiWhitespace(part));
  return out;
}

}  // namespace onnxc
