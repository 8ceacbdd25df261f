#include "passes/quantization/amct_record.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace onnxc {
namespace {

std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

std::string AmctRecordText(const QuantizationRecord& record) {
  std::string out;
  for (const QuantizationRecord::Layer& l : record.layer()) {
    if (!l.has_weight() || l.input_size() == 0) continue;
    absl::StrAppend(&out, "record {\n  key: ", Quoted(l.node()), "\n  value {\n");
    absl::StrAppend(&out, absl::StrFormat("    scale_d: %.9g\n", l.input(0).scale(0)));
    absl::StrAppend(&out, "    offset_d: ", l.input(0).zero_point_size() ? l.input(0).zero_point(0) : 0, "\n");
    for (float s : l.weight().scale()) absl::StrAppend(&out, absl::StrFormat("    scale_w: %.9g\n", s));
    for (int i = 0; i < l.weight().scale_size(); ++i) absl::StrAppend(&out, "    offset_w: 0\n");
    for (int b : l.shift_bit()) absl::StrAppend(&out, "    shift_bit: ", b, "\n");
    absl::StrAppend(&out, "    skip_fusion: false\n  }\n}\n");
  }
  return out;
}

std::string AmctRecordPath(const std::string& record_path) {
  std::string base = record_path;
  if (absl::EndsWith(base, ".quant_record.pbtxt")) base.resize(base.size() - std::string(".quant_record.pbtxt").size());
  return base + ".amct_record.txt";
}

}  // namespace onnxc
