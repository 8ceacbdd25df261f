// Typed pass options: each pass declares its options (name, type, default,
// help); a pipeline's `pass{key=value,...}` text is checked against that
// declaration, so a typo or a bad value fails before anything runs.
#ifndef ONNXC_PASSES_PASS_PASS_OPTIONS_H_
#define ONNXC_PASSES_PASS_PASS_OPTIONS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace onnxc {

struct OptionSpec {
  enum class Type { kBool, kInt, kFloat, kString, kList };
  std::string name;
  Type type;
  std::string default_value;  // as text; "" for an empty list/string
  std::string help;
};

std::string OptionTypeName(OptionSpec::Type t);

// Option values for one pass instance: what the pipeline gave, in the order
// given (so it prints back the same way), checked and typed on access.
class PassOptions {
 public:
  PassOptions() = default;
  // Validates `given` (key, text) pairs against `specs`.
  static absl::StatusOr<PassOptions> Create(const std::string& pass_name,
                                            const std::vector<OptionSpec>& specs,
                                            std::vector<std::pair<std::string, std::string>> given);

  bool Has(const std::string& name) const;  // given explicitly
  bool GetBool(const std::string& name) const;
  int64_t GetInt(const std::string& name) const;
  double GetFloat(const std::string& name) const;
  std::string GetString(const std::string& name) const;
  // Lists are written [a,b,c] (or a single bare item).
  std::vector<std::string> GetList(const std::string& name) const;

  const std::vector<std::pair<std::string, std::string>>& given() const { return given_; }

 private:
  const std::string& Text(const std::string& name) const;
  std::vector<OptionSpec> specs_;
  std::vector<std::pair<std::string, std::string>> given_;
};

}  // namespace onnxc

#endif  // ONNXC_PASSES_PASS_PASS_OPTIONS_H_
