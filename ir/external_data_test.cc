// External data: a model with its weights in a side file loads (lazily) and
// saves back equal with any external_threshold; malformed models and unsafe
// external paths are refused with messages that name the problem.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "ir/export.h"
#include "ir/import.h"
#include "ir/verifier.h"

namespace onnxc {
namespace {

namespace fs = std::filesystem;

std::string Models() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  std::string base = srcdir != nullptr ? srcdir : ".";
  return base + "/onnxcompress/testdata/models";
}

fs::path FreshDir(const std::string& name) {
  fs::path dir = fs::path(::testing::TempDir()) / "external_data_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Bazel's runfiles are a symlink forest: runfiles/.../external_data/weights.bin
// is a symlink into the source tree, which ResolveExternalPath refuses as
// leaving the model's folder (see DISABLED_LoadsThroughASymlinkForest). The
// tests below therefore load a real copy of the folder.
std::string ExternalDataModel() {
  static const std::string path = [] {
    fs::path dir = FreshDir("external_data_copy");
    for (const auto& e : fs::directory_iterator(Models() + "/external_data"))
      fs::copy(e.path(), dir / e.path().filename(), fs::copy_options::recursive);  // follows symlinks
    return (dir / "model.onnx").string();
  }();
  return path;
}

// The model with every tensor's data inline, for comparing models whose
// weights live in different places.
onnx::ModelProto Inlined(const Model& m) {
  ExportOptions o;
  o.inline_external = true;
  return ExportModel(m, o);
}

::testing::AssertionResult EquivalentProtos(const google::protobuf::Message& a,
                                            const google::protobuf::Message& b) {
  std::string diff;
  google::protobuf::util::MessageDifferencer d;
  d.set_message_field_comparison(google::protobuf::util::MessageDifferencer::EQUIVALENT);
  d.ReportDifferencesToString(&diff);
  if (d.Compare(a, b)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << diff.substr(0, 2000);
}

const Tensor* Init(const Model& m, const std::string& name) {
  const Value* v = m.graph().FindLocalValue(name);
  return v != nullptr ? v->initializer() : nullptr;
}

TEST(ExternalData, LoadsLazily) {
  auto model = LoadModel(ExternalDataModel());
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_TRUE(VerifyModel(**model).ok());
  for (const char* name : {"W", "B"}) {
    const Tensor* t = Init(**model, name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->encoding(), TensorEncoding::kExternal) << name;
    EXPECT_FALSE(t->loaded()) << name << " was read before use";
    ASSERT_NE(t->external(), nullptr);
    EXPECT_EQ(t->external()->location, "weights.bin");
  }
  EXPECT_EQ(Init(**model, "W")->external()->length, 432);
  EXPECT_EQ(Init(**model, "B")->external()->offset, 432);
  const Tensor* w = Init(**model, "W");
  ASSERT_TRUE(w->Load().ok());
  EXPECT_TRUE(w->loaded());
  EXPECT_EQ(w->byte_size(), 432u);
  // The bytes are the file's.
  std::ifstream f(Models() + "/external_data/weights.bin", std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_EQ(file.size(), 448u);
  EXPECT_EQ(std::string(w->raw(), 432), file.substr(0, 432));
  EXPECT_EQ(std::string(Init(**model, "B")->raw(), 16), file.substr(432, 16));
}

TEST(ExternalData, RoundTripsWithAnyThreshold) {
  auto original = LoadModel(ExternalDataModel());
  ASSERT_TRUE(original.ok()) << original.status();
  const onnx::ModelProto expected = Inlined(**original);
  for (int64_t threshold : {int64_t{0}, int64_t{-1}, int64_t{100}, int64_t{1} << 20}) {
    SCOPED_TRACE(threshold);
    fs::path dir = FreshDir("threshold" + std::to_string(threshold));
    SaveOptions opts;
    opts.external_threshold = threshold;
    std::string path = (dir / "model.onnx").string();
    absl::Status s = SaveModel(**original, path, opts);
    ASSERT_TRUE(s.ok()) << s;
    auto back = LoadModel(path);
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_TRUE(VerifyModel(**back).ok());
    EXPECT_TRUE(EquivalentProtos(expected, Inlined(**back)));
    const Tensor* w = Init(**back, "W");
    const Tensor* b = Init(**back, "B");
    ASSERT_NE(w, nullptr);
    ASSERT_NE(b, nullptr);
    // -1 keeps each tensor where it was (external); 0 moves everything out;
    // 100 keeps the 16-byte bias inline; 1 MiB keeps both inline.
    bool w_ext = threshold == -1 || threshold <= 432;
    bool b_ext = threshold == -1 || threshold <= 16;
    if (threshold == int64_t{1} << 20) w_ext = b_ext = false;
    EXPECT_EQ(w->encoding() == TensorEncoding::kExternal, w_ext);
    EXPECT_EQ(b->encoding() == TensorEncoding::kExternal, b_ext);
    EXPECT_EQ(fs::exists(dir / "model.onnx.data"), w_ext || b_ext);
    if (w_ext) {
      EXPECT_EQ(w->external()->location, "model.onnx.data");
    }
    EXPECT_TRUE(w->SameContents(*Init(**original, "W")));
    EXPECT_TRUE(b->SameContents(*Init(**original, "B")));
    // Saved twice: same bytes.
    std::string again = (dir / "again.onnx").string();
    SaveOptions same = opts;
    same.external_file = "model.onnx.data.2";
    ASSERT_TRUE(SaveModel(**back, again, same).ok());
    auto back2 = LoadModel(again);
    ASSERT_TRUE(back2.ok()) << back2.status();
    EXPECT_TRUE(EquivalentProtos(expected, Inlined(**back2)));
  }
}

// A model reached through a folder of per-file symlinks (Bazel runfiles; the
// Hugging Face hub cache, whose snapshot folders link each file to blobs/)
// loads its external data: the data really lives where the model file really
// lives.
TEST(ExternalData, LoadsThroughASymlinkForest) {
  fs::path dir = FreshDir("forest");
  fs::path blobs = dir / "blobs", snapshot = dir / "snapshot";
  fs::create_directories(blobs);
  fs::create_directories(snapshot);
  fs::copy(Models() + "/external_data/model.onnx", blobs / "1111");
  fs::copy(Models() + "/external_data/weights.bin", blobs / "2222");
  fs::create_symlink("../blobs/1111", snapshot / "model.onnx");
  fs::create_symlink("../blobs/2222", snapshot / "weights.bin");
  auto model = LoadModel((snapshot / "model.onnx").string());
  EXPECT_TRUE(model.ok()) << model.status();
  auto runfiles = LoadModel(Models() + "/external_data/model.onnx");
  EXPECT_TRUE(runfiles.ok()) << runfiles.status();
}

// ---- Malformed models.

struct BadCase {
  const char* file;
  std::vector<const char*> words;  // each must appear in the message
};

class BadModels : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadModels, AreRefusedWithAClearMessage) {
  const BadCase& c = GetParam();
  std::string path = Models() + "/bad/" + c.file;
  ASSERT_TRUE(fs::exists(path)) << path;
  auto model = LoadModel(path);
  ASSERT_FALSE(model.ok()) << c.file << " loaded";
  std::string msg(model.status().message());
  for (const char* w : c.words)
    EXPECT_NE(msg.find(w), std::string::npos) << c.file << ": '" << w << "' not in: " << msg;
  // The message names the file it is about.
  EXPECT_NE(msg.find(c.file), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(
    ExternalData, BadModels,
    ::testing::Values(
        BadCase{"truncated.onnx", {"truncated"}},
        BadCase{"dangling_input.onnx", {"'nowhere'", "nothing defines"}},
        BadCase{"cycle.onnx", {"cycle", "'n"}},
        BadCase{"duplicate_names.onnx", {"'y'", "defined twice", "'n1'", "'n2'"}},
        BadCase{"missing_external/model.onnx", {"weights.bin", "not found"}},
        BadCase{"escaping_external/model.onnx", {"../../etc/passwd", "leaves"}},
        BadCase{"absolute_external/model.onnx", {"/etc/passwd", "absolute"}}),
    [](const ::testing::TestParamInfo<BadCase>& info) {
      std::string n = info.param.file;
      n = n.substr(0, n.find_first_of("./"));
      return n;
    });

// A small model whose initializer "w" (4 floats) is external at `location`.
void WriteExternalModel(const fs::path& path, const std::string& location) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("symlinks");
  auto* in = g->add_input();
  in->set_name("x");
  auto* n = g->add_node();
  n->set_op_type("Add");
  n->add_input("x");
  n->add_input("w");
  n->add_output("y");
  g->add_output()->set_name("y");
  auto* t = g->add_initializer();
  t->set_name("w");
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(4);
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* kv = t->add_external_data();
  kv->set_key("location");
  kv->set_value(location);
  std::ofstream f(path, std::ios::binary);
  ASSERT_TRUE(m.SerializeToOstream(&f));
}

void WriteBytes(const fs::path& path, size_t n) {
  std::ofstream f(path, std::ios::binary);
  f << std::string(n, '\x01');
}

TEST(ExternalData, SymlinkLeavingTheModelFolderIsRefused) {
  fs::path root = FreshDir("symlinks");
  fs::path model_dir = root / "model";
  fs::create_directories(model_dir / "inside");
  fs::create_directories(root / "outside");
  WriteBytes(root / "secret.bin", 16);
  WriteBytes(root / "outside" / "secret.bin", 16);
  WriteBytes(model_dir / "inside" / "w.bin", 16);
  fs::create_symlink("../secret.bin", model_dir / "file_link.bin");           // file, relative
  fs::create_symlink(root / "secret.bin", model_dir / "abs_link.bin");        // file, absolute
  fs::create_directory_symlink("../outside", model_dir / "dir_link");         // folder
  fs::create_symlink("inside/w.bin", model_dir / "ok_link.bin");              // stays inside

  // The symlinks that leave the folder are refused, naming the location.
  for (const char* loc : {"file_link.bin", "abs_link.bin", "dir_link/secret.bin"}) {
    SCOPED_TRACE(loc);
    WriteExternalModel(model_dir / "model.onnx", loc);
    auto model = LoadModel((model_dir / "model.onnx").string());
    ASSERT_FALSE(model.ok()) << "a symlink out of the model folder was followed";
    std::string msg(model.status().message());
    EXPECT_EQ(model.status().code(), absl::StatusCode::kPermissionDenied) << msg;
    EXPECT_NE(msg.find(loc), std::string::npos) << msg;
    EXPECT_NE(msg.find("outside"), std::string::npos) << msg;
  }
  // A symlink that stays inside is fine.
  WriteExternalModel(model_dir / "model.onnx", "ok_link.bin");
  auto model = LoadModel((model_dir / "model.onnx").string());
  ASSERT_TRUE(model.ok()) << model.status();
  const Tensor* w = Init(**model, "w");
  ASSERT_NE(w, nullptr);
  EXPECT_FALSE(w->loaded());
  ASSERT_TRUE(w->Load().ok());
  EXPECT_EQ(w->raw()[15], '\x01');
  fs::remove_all(root);
}

// External data that is shorter than the tensor is caught at load time, not
// when a pass first reads the tensor.
TEST(ExternalData, ShortDataFileIsRefusedAtLoad) {
  fs::path dir = FreshDir("short");
  WriteBytes(dir / "w.bin", 12);  // 4 floats need 16
  WriteExternalModel(dir / "model.onnx", "w.bin");
  auto model = LoadModel((dir / "model.onnx").string());
  ASSERT_FALSE(model.ok());
  std::string msg(model.status().message());
  EXPECT_NE(msg.find("'w'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("16"), std::string::npos) << msg;
}

}  // namespace
}  // namespace onnxc

namespace onnxc {
namespace {

// Regressions found by the loader fuzzer (tools/fuzz.sh).
TEST(FuzzRegressions, ShapesWhoseSizeOverflowsAreRefused) {
  onnx::TensorProto t;
  t.set_data_type(onnx::TensorProto::FLOAT);
  t.add_dims(4611686018427387905LL);
  t.add_dims(4);
  t.set_raw_data(std::string(16, '\0'));
  auto r = Tensor::FromProto(t, ".");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("too large"), absl::string_view::npos) << r.status();
}

TEST(FuzzRegressions, ExternalOffsetPastTheEndIsRefused) {
  fs::path dir = fs::path(::testing::TempDir()) / "offset";
  fs::create_directories(dir);
  std::ofstream(dir / "w.bin") << std::string(448, 'x');
  onnx::TensorProto t;
  t.set_data_type(onnx::TensorProto::FLOAT);
  t.add_dims(2);
  t.set_data_location(onnx::TensorProto::EXTERNAL);
  auto* kv = t.add_external_data();
  kv->set_key("location");
  kv->set_value("w.bin");
  kv = t.add_external_data();
  kv->set_key("offset");
  kv->set_value("669");
  auto r = Tensor::FromProto(t, dir.string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("past the end"), absl::string_view::npos) << r.status();
  t.set_data_type(onnx::TensorProto::UNDEFINED);
  EXPECT_FALSE(Tensor::FromProto(t, dir.string()).ok());
}

TEST(FuzzRegressions, EmptyGraphInputNamesAreRefused) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  m.mutable_graph()->set_name("g");
  m.mutable_graph()->add_input()->set_name("");
  auto r = ParseModel(m.SerializeAsString());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("empty name"), absl::string_view::npos) << r.status();
}

}  // namespace
}  // namespace onnxc
