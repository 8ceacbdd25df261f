#include "passes/pass/pipeline.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace onnxc {
namespace {

class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::StatusOr<std::vector<PipelineElement>> Parse() {
    auto list = ParseList();
    if (!list.ok()) return list;
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected character");
    return list;
  }

 private:
  absl::Status Error(const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat("pipeline '", text_, "' at position ", pos_,
                                                   ": ", what));
  }
  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool Eat(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::string Identifier() {
    SkipSpace();
    size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '-' ||
            text_[pos_] == '_' || text_[pos_] == '.'))
      ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }
  // A value runs to the next ',' or '}' at depth 0; [..] and quotes nest.
  absl::StatusOr<std::string> Value() {
    SkipSpace();
    size_t start = pos_;
    int depth = 0;
    char quote = 0;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '[') {
        ++depth;
      } else if (c == ']') {
        if (--depth < 0) return Error("unbalanced ']'");
      } else if (depth == 0 && (c == ',' || c == '}')) {
        break;
      }
      ++pos_;
    }
    if (quote || depth != 0) return Error("unterminated value");
    std::string v(text_.substr(start, pos_ - start));
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
    if (v.size() >= 2 && (v[0] == '\'' || v[0] == '"') && v.back() == v[0]) v = v.substr(1, v.size() - 2);
    return v;
  }
  absl::StatusOr<std::vector<PipelineElement>> ParseList() {
    std::vector<PipelineElement> out;
    do {
      PipelineElement e;
      e.name = Identifier();
      if (e.name.empty()) return Error("expected a pass name");
      if (Eat('{')) {
        if (!Eat('}')) {
          do {
            std::string key = Identifier();
            if (key.empty()) return Error("expected an option name");
            if (!Eat('=')) return Error(absl::StrCat("expected '=' after option '", key, "'"));
            auto value = Value();
            if (!value.ok()) return value.status();
            e.options.emplace_back(key, *value);
          } while (Eat(','));
          if (!Eat('}')) return Error("expected '}'");
        }
      }
      if (Eat('(')) {
        e.has_children = true;
        auto children = ParseList();
        if (!children.ok()) return children;
        e.children = std::move(*children);
        if (!Eat(')')) return Error("expected ')'");
      }
      out.push_back(std::move(e));
    } while (Eat(','));
    return out;
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<std::vector<PipelineElement>> ParsePipeline(absl::string_view text) {
  return Parser(text).Parse();
}

std::string PrintPipeline(const std::vector<PipelineElement>& elements) {
  std::vector<std::string> parts;
  for (const auto& e : elements) {
    std::string s = e.name;
    if (!e.options.empty()) {
      std::vector<std::string> kv;
      for (const auto& [k, v] : e.options) {
        bool needs_quotes = v.find_first_of(",}") != std::string::npos && v.front() != '[';
        kv.push_back(absl::StrCat(k, "=", needs_quotes ? absl::StrCat("'", v, "'") : v));
      }
      absl::StrAppend(&s, "{", absl::StrJoin(kv, ","), "}");
    }
    if (e.has_children) absl::StrAppend(&s, "(", PrintPipeline(e.children), ")");
    parts.push_back(std::move(s));
  }
  return absl::StrJoin(parts, ",");
}

}  // namespace onnxc
