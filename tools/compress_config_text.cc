#include "tools/compress_config_text.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace onnxc {

absl::StatusOr<CompressConfig> ParseCompressConfig(const std::string& text, const std::string& source) {
  struct Collector : google::protobuf::io::ErrorCollector {
    std::string errors;
    void AddError(int line, int column, const std::string& message) override {
      absl::StrAppend(&errors, "  line ", line + 1, ", column ", column + 1, ": ", message, "\n");
    }
  } collector;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&collector);
  CompressConfig config;
  if (!parser.ParseFromString(text, &config))
    return absl::InvalidArgumentError(absl::StrCat(source, " is invalid:\n", collector.errors));
  return config;
}

}  // namespace onnxc
