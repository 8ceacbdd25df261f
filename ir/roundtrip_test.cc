// Every model in the ONNX conformance suite (Debian's libonnx-testdata) must
// load into the IR and export back to an equivalent proto, both in memory and
// through SaveModel's streaming writer.
//
// Documented normalisation: protos are compared with
// MessageDifferencer::Equivalent, so an optional field explicitly set to its
// default (e.g. domain: "") equals an unset one.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "ir/export.h"
#include "ir/import.h"
#include "ir/verifier.h"

namespace onnxc {
namespace {

namespace fs = std::filesystem;
constexpr char kSuite[] = "/usr/share/libonnx-testdata/data";

std::vector<std::string> SuiteModels() {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(kSuite))
    if (e.path().filename() == "model.onnx") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

bool Equivalent(const google::protobuf::Message& a, const google::protobuf::Message& b,
                std::string* diff) {
  google::protobuf::util::MessageDifferencer d;
  d.set_message_field_comparison(google::protobuf::util::MessageDifferencer::EQUIVALENT);
  d.ReportDifferencesToString(diff);
  return d.Compare(a, b);
}

onnx::ModelProto ReadProto(const std::string& path) {
  onnx::ModelProto p;
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(p.ParseFromIstream(&f)) << path;
  return p;
}

TEST(RoundTrip, EveryConformanceModelSurvivesLoadAndExport) {
  auto models = SuiteModels();
  // The count pins the suite: a missing package or a changed suite shows up.
  ASSERT_EQ(models.size(), 1072u) << "is libonnx-testdata installed?";
  std::string tmp = ::testing::TempDir() + "/rt.onnx";
  int exact = 0, saved = 0;
  for (const std::string& path : models) {
    onnx::ModelProto original = ReadProto(path);
    auto model = LoadModel(path);
    ASSERT_TRUE(model.ok()) << path << ": " << model.status();
    ASSERT_TRUE(VerifyModel(**model).ok()) << path << ": " << VerifyModel(**model);
    std::string diff;
    onnx::ModelProto exported = ExportModel(**model);
    if (Equivalent(original, exported, &diff)) ++exact;
    else ADD_FAILURE() << path << " differs after export:\n" << diff.substr(0, 2000);
    ASSERT_TRUE(SaveModel(**model, tmp).ok()) << path;
    diff.clear();
    if (Equivalent(original, ReadProto(tmp), &diff)) ++saved;
    else ADD_FAILURE() << path << " differs after SaveModel:\n" << diff.substr(0, 2000);
  }
  std::printf("round trip: %d/%zu exported equal, %d/%zu saved equal\n", exact, models.size(),
              saved, models.size());
  EXPECT_EQ(exact, 1072);
  EXPECT_EQ(saved, 1072);
}

}  // namespace
}  // namespace onnxc
