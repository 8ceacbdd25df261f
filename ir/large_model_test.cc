// A model over protobuf's 2 GB limit: three float initializers of 700 MiB
// each (2100 MiB) feeding Add nodes, plus two small ones. SaveModel must move
// the weights to an external data file by itself, LoadModel must leave them on
// disk until they are used, and a second save must give back the same bytes.
//
// Writes about 4.2 GB to ::testing::TempDir() (deleted at the end) and needs
// about 2.5 GB of memory.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ir/export.h"
#include "ir/import.h"
#include "ir/verifier.h"

namespace onnxc {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMiB = 1 << 20;
constexpr int64_t kBigElements = 700 * kMiB / 4;  // 700 MiB of float each
const char* const kBig[] = {"A", "B", "C"};

// Element i of big tensor k: exact in float (below 2^24).
float Pattern(int k, int64_t i) {
  return static_cast<float>((static_cast<uint64_t>(i) * 2654435761u + 977u * k) % 16777216u);
}

std::vector<int64_t> SampleIndices() {
  std::vector<int64_t> idx = {0, 1, 2, 1023, 1024, kBigElements / 3, kBigElements / 2,
                              kBigElements - 2, kBigElements - 1};
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 32; ++i) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    idx.push_back(static_cast<int64_t>(x % kBigElements));
  }
  return idx;
}

// Peak resident memory (VmHWM) in bytes.
int64_t PeakRss() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

int64_t CurrentRss() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  }
  return -1;
}

// x[16] + A + B + C (shapes are not checked here; nothing runs the model),
// and y2 = x2 + mid + bias.
std::unique_ptr<Model> BuildModel() {
  auto model = std::make_unique<Model>();
  model->mutable_meta()->set_ir_version(8);
  model->mutable_meta()->set_producer_name("large_model_test");
  model->SetOpsetVersion("", 13);
  Graph& g = model->graph();
  g.set_name("large");
  std::vector<Value*> big;
  for (int k = 0; k < 3; ++k) {
    Tensor t(onnx::TensorProto::FLOAT, {kBigElements});
    float* p = t.mutable_data<float>();
    for (int64_t i = 0; i < kBigElements; ++i) p[i] = Pattern(k, i);
    big.push_back(g.AddInitializer(kBig[k], std::move(t)));
  }
  Tensor mid(onnx::TensorProto::FLOAT, {1024});  // 4 KiB: external when automatic
  for (int i = 0; i < 1024; ++i) mid.mutable_data<float>()[i] = i * 0.5f;
  Tensor bias(onnx::TensorProto::FLOAT, {4});     // 16 B: always inline
  for (int i = 0; i < 4; ++i) bias.mutable_data<float>()[i] = -1.0f - i;
  Value* vmid = g.AddInitializer("mid", std::move(mid));
  Value* vbias = g.AddInitializer("bias", std::move(bias));

  Value* s1 = g.CreateNodeWithOutputs("Add", {big[0], big[1]}, {"s1"}, nullptr, "add1")->output(0);
  Value* y = g.CreateNodeWithOutputs("Add", {s1, big[2]}, {"y"}, nullptr, "add2")->output(0);
  Value* x2 = g.AddInput("x2");
  Value* t2 = g.CreateNodeWithOutputs("Add", {x2, vmid}, {"t2"}, nullptr, "add3")->output(0);
  Value* y2 = g.CreateNodeWithOutputs("Add", {t2, vbias}, {"y2"}, nullptr, "add4")->output(0);
  g.AddOutput(y);
  g.AddOutput(y2);
  return model;
}

const Tensor* Initializer(const Model& m, const std::string& name) {
  const Value* v = m.graph().FindLocalValue(name);
  return v != nullptr ? v->initializer() : nullptr;
}

// Byte-for-byte file comparison in 64 MiB chunks.
::testing::AssertionResult SameBytes(const std::string& a, const std::string& b) {
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  if (!fa || !fb) return ::testing::AssertionFailure() << "cannot open " << a << " or " << b;
  if (fs::file_size(a) != fs::file_size(b))
    return ::testing::AssertionFailure() << a << " has " << fs::file_size(a) << " bytes, " << b
                                         << " has " << fs::file_size(b);
  std::vector<char> ba(64 * kMiB), bb(64 * kMiB);
  int64_t offset = 0;
  while (fa && fb) {
    fa.read(ba.data(), ba.size());
    fb.read(bb.data(), bb.size());
    std::streamsize n = fa.gcount();
    if (n != fb.gcount() || std::memcmp(ba.data(), bb.data(), n) != 0)
      return ::testing::AssertionFailure() << a << " and " << b << " differ in the 64 MiB block at "
                                           << offset;
    offset += n;
    if (n == 0) break;
  }
  return ::testing::AssertionSuccess();
}

class LargeModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / "large_model_test";
    fs::remove_all(root_);
    fs::create_directories(root_ / "first");
    fs::create_directories(root_ / "second");
    fs::create_directories(root_ / "refused");
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path root_;
};

TEST_F(LargeModelTest, SavesExternallyLoadsLazilyAndRoundTripsByteForByte) {
  const std::string first = (root_ / "first" / "model.onnx").string();
  const std::string second = (root_ / "second" / "model.onnx").string();
  {
    auto model = BuildModel();
    ASSERT_TRUE(VerifyModel(*model).ok());

    // Explicit options that cannot work are refused before anything is written.
    const std::string refused = (root_ / "refused" / "model.onnx").string();
    SaveOptions forbid;
    forbid.forbid_external = true;
    absl::Status s = SaveModel(*model, refused, forbid);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("external data"), std::string::npos) << s;
    EXPECT_NE(s.message().find("forbidden"), std::string::npos) << s;
    SaveOptions all_inline;
    all_inline.external_threshold = 1024 * kMiB;  // no tensor qualifies: 2.1 GB inline
    s = SaveModel(*model, refused, all_inline);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("2 GB"), std::string::npos) << s;
    EXPECT_TRUE(fs::is_empty(root_ / "refused")) << "a refused save left files behind";

    // Default options: over 2 GB inline, so tensors of 1 KiB and more move out.
    int64_t peak_before = PeakRss();
    s = SaveModel(*model, first);
    ASSERT_TRUE(s.ok()) << s;
    int64_t peak_after = PeakRss();
    // Streaming: saving must not copy the weights.
    EXPECT_LT(peak_after - peak_before, 256 * kMiB)
        << "SaveModel raised peak memory from " << peak_before << " to " << peak_after;
  }
  ASSERT_TRUE(fs::exists(first + ".data"));
  EXPECT_LT(fs::file_size(first), kMiB) << "weights were written inline";
  EXPECT_GE(static_cast<int64_t>(fs::file_size(first + ".data")), 3 * 700 * kMiB + 4096);

  int64_t rss_before_load = CurrentRss();
  auto loaded = LoadModel(first);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Model& m = **loaded;
  EXPECT_LT(CurrentRss() - rss_before_load, 64 * kMiB) << "LoadModel read the weights eagerly";
  ASSERT_TRUE(VerifyModel(m).ok());
  for (const char* name : {"A", "B", "C", "mid"}) {
    const Tensor* t = Initializer(m, name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->encoding(), TensorEncoding::kExternal) << name;
    ASSERT_NE(t->external(), nullptr) << name;
    EXPECT_EQ(t->external()->location, "model.onnx.data") << name;
    EXPECT_EQ(t->external()->offset % 64, 0) << name << " is not 64-byte aligned";
    EXPECT_FALSE(t->loaded()) << name << " was read at load time";
  }
  const Tensor* bias = Initializer(m, "bias");
  ASSERT_NE(bias, nullptr);
  EXPECT_NE(bias->encoding(), TensorEncoding::kExternal) << "a 16-byte tensor went external";
  EXPECT_TRUE(bias->loaded());
  EXPECT_EQ(bias->data<float>()[3], -4.0f);

  const std::vector<int64_t> samples = SampleIndices();
  for (int k = 0; k < 3; ++k) {
    const Tensor* t = Initializer(m, kBig[k]);
    ASSERT_EQ(t->dims(), std::vector<int64_t>{kBigElements});
    ASSERT_TRUE(t->Load().ok());
    EXPECT_TRUE(t->loaded());
    const float* p = t->data<float>();
    for (int64_t i : samples) ASSERT_EQ(p[i], Pattern(k, i)) << kBig[k] << "[" << i << "]";
    t->Unload();
    EXPECT_FALSE(t->loaded());
  }
  const Tensor* mid = Initializer(m, "mid");
  EXPECT_EQ(mid->data<float>()[1023], 511.5f);
  EXPECT_TRUE(mid->loaded());

  // Saving the lazily loaded model streams each tensor from the first file.
  absl::Status s = SaveModel(m, second);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_FALSE(Initializer(m, "A")->loaded()) << "SaveModel left a tensor it read in memory";
  EXPECT_TRUE(SameBytes(first, second));
  EXPECT_TRUE(SameBytes(first + ".data", second + ".data"));
}

// SaveOptions.external_threshold decides per tensor, on a small model.
TEST(ExternalThreshold, PlacesTensorsBySize) {
  const fs::path dir = fs::path(::testing::TempDir()) / "external_threshold_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto model = std::make_unique<Model>();
  model->mutable_meta()->set_ir_version(8);
  model->SetOpsetVersion("", 13);
  Graph& g = model->graph();
  std::vector<Value*> ins;
  for (int64_t n : {4, 1024, 65536}) {  // 16 B, 4 KiB, 256 KiB
    Tensor t(onnx::TensorProto::FLOAT, {n});
    for (int64_t i = 0; i < n; ++i) t.mutable_data<float>()[i] = static_cast<float>(i % 977);
    ins.push_back(g.AddInitializer("w" + std::to_string(n), std::move(t)));
  }
  Value* s = g.CreateNodeWithOutputs("Concat", ins, {"y"}, nullptr, "concat")->output(0);
  g.AddOutput(s);

  struct Case {
    int64_t threshold;
    std::vector<bool> external;  // per tensor, smallest first
  };
  for (const Case& c : {Case{-1, {false, false, false}}, Case{0, {true, true, true}},
                        Case{4096, {false, true, true}}, Case{4097, {false, false, true}},
                        Case{1 << 30, {false, false, false}}}) {
    SCOPED_TRACE(c.threshold);
    SaveOptions opts;
    opts.external_threshold = c.threshold;
    opts.external_file = "weights.bin";
    const std::string path = (dir / ("t" + std::to_string(c.threshold)) / "m.onnx").string();
    fs::create_directories(fs::path(path).parent_path());
    absl::Status st = SaveModel(*model, path, opts);
    ASSERT_TRUE(st.ok()) << st;
    bool any = false;
    for (bool e : c.external) any |= e;
    EXPECT_EQ(fs::exists(fs::path(path).parent_path() / "weights.bin"), any);
    auto back = LoadModel(path);
    ASSERT_TRUE(back.ok()) << back.status();
    int i = 0;
    for (int64_t n : {4, 1024, 65536}) {
      const Tensor* t = Initializer(**back, "w" + std::to_string(n));
      ASSERT_NE(t, nullptr);
      EXPECT_EQ(t->encoding() == TensorEncoding::kExternal, c.external[i]) << "w" << n;
      EXPECT_TRUE(t->SameContents(*Initializer(*model, "w" + std::to_string(n)))) << "w" << n;
      ++i;
    }
    // forbid_external turns a needed external file into an error.
    if (any) {
      opts.forbid_external = true;
      st = SaveModel(*model, (dir / "forbidden.onnx").string(), opts);
      EXPECT_FALSE(st.ok());
      EXPECT_NE(st.message().find("forbidden"), std::string::npos) << st;
      EXPECT_FALSE(fs::exists(dir / "forbidden.onnx"));
    }
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace onnxc
