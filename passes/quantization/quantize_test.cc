// The `quantize` pass proven in ONNX Runtime (onnxruntime-node): accuracy of
// the Fashion-MNIST CNN for every calibration method, resnet18 QDQ output
// closeness, the record file, skip lists that really keep a layer float (also
// inside ONNX Runtime, which quantizes a float Conv between DQ and Q by itself),
// config errors, the fake-quant model and the size ratio.
// The full 10k-image figures and latency come from testdata/quant_report.sh.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "analysis/tensor_metrics.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "ir/export.h"
#include "ir/import.h"
#include "ir/verifier.h"
#include "passes/pass/pass_manager.h"
#include "passes/quantization/quantization_config.pb.h"
#include "passes/quantization/quantization_run_settings.h"
#include "passes/quantization/quantization_settings.h"
#include "testdata/ort_runner.h"

namespace onnxc {
namespace {

namespace fs = std::filesystem;

// Skips when ONNX Runtime is not configured; fails when it is but the data is missing.
#define REQUIRE_ORT_AND_DATA()                                                                   \
  do {                                                                                           \
    if (OrtDir().empty()) GTEST_SKIP() << "ONNXC_ORT_DIR not set: run through tools/test.sh";    \
    ASSERT_FALSE(GeneratedTestdataDir().empty()) << "ONNXC_TESTDATA not set";                   \
  } while (0)

std::string Gen(const std::string& rel) { return GeneratedTestdataDir() + "/" + rel; }
std::string Tmp(const std::string& name) { return ::testing::TempDir() + "/" + name; }

struct QuantizeRun {
  std::string output;
  std::string record;
  std::string fake_quant;
};

// optimize + quantize{options} on `input` with `calib`, saved to a temp file.
absl::StatusOr<QuantizeRun> Quantize(const std::string& input, const std::string& calib, const std::string& options,
                                     const std::string& tag, bool fake_quant = false) {
  auto model = LoadModel(input);
  if (!model.ok()) return model.status();
  auto pm = PassManager::Create("optimize,quantize" + options);
  if (!pm.ok()) return pm.status();
  QuantizeRun r{Tmp(tag + ".onnx"), Tmp(tag + ".quant_record.pbtxt"), fake_quant ? Tmp(tag + ".fake.onnx") : ""};
  RunSettings settings;
  settings.calibration.data = calib;
  QuantizationRunSettings family;
  family.record_path = r.record;
  if (fake_quant) family.fake_quant_path = r.fake_quant;
  settings.families.Set(family);
  PassContext ctx;
  ctx.settings = &settings;
  absl::Status s = (*pm)->Run(**model, ctx);
  if (!s.ok()) return s;
  s = VerifyModel(**model);
  if (!s.ok()) return s;
  bool ran = false;
  s = CheckWithOnnx(**model, &ran);
  if (!s.ok()) return s;
  if (!ran) return absl::InternalError("the ONNX checker did not run");
  s = SaveModel(**model, r.output);
  if (!s.ok()) return s;
  return r;
}

// Minimal .npy reader: little-endian float32 or int64, C order.
absl::StatusOr<Tensor> ReadNpy(const std::string& path, int64_t max_rows) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError("cannot read " + path);
  char magic[8];
  f.read(magic, 8);
  if (std::string(magic + 1, 5) != "NUMPY") return absl::InvalidArgumentError(path + " is not .npy");
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    uint16_t h;
    f.read(reinterpret_cast<char*>(&h), 2);
    hlen = h;
  } else {
    f.read(reinterpret_cast<char*>(&hlen), 4);
  }
  std::string header(hlen, ' ');
  f.read(header.data(), hlen);
  bool f32 = header.find("'<f4'") != std::string::npos, i64 = header.find("'<i8'") != std::string::npos;
  if (!f32 && !i64) return absl::InvalidArgumentError(path + ": unsupported dtype " + header);
  size_t a = header.find("'shape': (") + 10, b = header.find(')', a);
  std::vector<int64_t> dims;
  std::stringstream ss(header.substr(a, b - a));
  for (std::string d; std::getline(ss, d, ',');)
    if (d.find_first_not_of(' ') != std::string::npos) dims.push_back(std::stoll(d));
  if (dims.empty()) return absl::InvalidArgumentError(path + ": no shape");
  dims[0] = std::min(dims[0], max_rows);
  Tensor t(f32 ? onnx::TensorProto::FLOAT : onnx::TensorProto::INT64, dims);
  f.read(reinterpret_cast<char*>(t.mutable_data<char>()), static_cast<std::streamsize>(t.byte_size()));
  if (!f) return absl::DataLossError(path + " is truncated");
  return t;
}

double Top1(const Tensor& logits, const Tensor& labels) {
  int64_t n = logits.dims()[0], k = logits.dims()[1], correct = 0;
  const float* y = logits.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (y[i * k + j] > y[i * k + best]) best = j;
    correct += best == labels.data<int64_t>()[i];
  }
  return static_cast<double>(correct) / n;
}

absl::StatusOr<QuantizationRecord> ReadRecord(const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::NotFoundError("no record " + path);
  std::stringstream s;
  s << f.rdbuf();
  QuantizationRecord r;
  if (!google::protobuf::TextFormat::ParseFromString(s.str(), &r)) return absl::InvalidArgumentError("bad record");
  return r;
}

// Op counts of ONNX Runtime's optimised graph (testdata/ort/fused_ops.js),
// which is also saved to `save` if given.
absl::StatusOr<std::map<std::string, int>> OrtFusedOps(const std::string& model, const std::string& save = "") {
  std::string out = model + ".fused.txt";
  std::string cmd = "node '" + OrtDir() + "/fused_ops.js' '" + model + "' --opt all" +
                    (save.empty() ? "" : " --save '" + save + "'") + " > '" + out + "' 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream f(out);
  std::string line, all;
  for (std::string l; std::getline(f, l);) {
    all += l + "\n";
    if (!l.empty() && l[0] == '{') line = l;
  }
  if (rc != 0 || line.empty()) return absl::InternalError("fused_ops.js failed on " + model + ": " + all);
  std::map<std::string, int> counts;
  // {"QLinearConv":3,"Flatten":1}
  for (size_t p = line.find('"'); p != std::string::npos; p = line.find('"', p)) {
    size_t e = line.find('"', p + 1);
    std::string op = line.substr(p + 1, e - p - 1);
    size_t c = line.find(':', e);
    counts[op] = std::stoi(line.substr(c + 1));
    p = line.find_first_of(",}", c);
    if (p == std::string::npos) break;
  }
  return counts;
}

// Float model `name` (testdata/generated/NAME/model.onnx) against `quantized`
// in ONNX Runtime, on the inputs of NAME/SET.
absl::StatusOr<TensorDiff> OrtDiff(const std::string& name, const std::string& quantized, const std::string& set) {
  auto in = ReadTensorPbSeries(Gen(name + "/" + set), "input");
  if (!in.ok()) return in.status();
  auto ref = RunWithOrt(Gen(name + "/model.onnx"), *in);
  if (!ref.ok()) return ref.status();
  auto out = RunWithOrt(quantized, *in);
  if (!out.ok()) return out.status();
  return CompareTensors((*ref)[0].tensor, (*out)[0].tensor);
}

constexpr int64_t kTestImages = 2000;  // the full 10k run is testdata/quant_report.sh

// (a) every calibration method keeps top-1 within 0.5 point of float, in ORT.
TEST(Quantize, FashionMnistTop1PerMethodInOnnxRuntime) {
  REQUIRE_ORT_AND_DATA();
  ASSERT_TRUE(fs::exists(Gen("fmnist/model.onnx"))) << "run testdata/generate.sh";
  auto images = ReadNpy(Gen("fmnist/test_images.npy"), kTestImages);
  auto labels = ReadNpy(Gen("fmnist/test_labels.npy"), kTestImages);
  ASSERT_TRUE(images.ok()) << images.status();
  ASSERT_TRUE(labels.ok()) << labels.status();
  std::vector<NamedTensor> in = {{"input", *images}};
  auto ref = RunWithOrt(Gen("fmnist/model.onnx"), in);
  ASSERT_TRUE(ref.ok()) << ref.status();
  double float_top1 = Top1((*ref)[0].tensor, *labels);
  std::printf("float: top-1 %.4f on %lld test images\n", float_top1, static_cast<long long>(kTestImages));
  EXPECT_GT(float_top1, 0.88);
  for (const char* method : {"minmax", "moving-average", "percentile", "entropy", "mse", "ifmr"}) {
    SCOPED_TRACE(method);
    auto q = Quantize(Gen("fmnist/model.onnx"), Gen("fmnist/calib"), std::string("{method=") + method + "}",
                      std::string("fm_") + method);
    ASSERT_TRUE(q.ok()) << q.status();
    auto out = RunWithOrt(q->output, in);
    ASSERT_TRUE(out.ok()) << out.status();
    double top1 = Top1((*out)[0].tensor, *labels);
    TensorDiff d = CompareTensors((*ref)[0].tensor, (*out)[0].tensor);
    std::printf("%-15s top-1 %.4f (float %.4f, %+.2f points), logits SQNR %.1f dB, cosine %.6f\n", method, top1,
                float_top1, 100 * (top1 - float_top1), d.sqnr_db, d.cosine);
    EXPECT_GE(top1, float_top1 - 0.005);
    EXPECT_GT(d.sqnr_db, 15);
    EXPECT_GT(d.cosine, 0.99);
  }
}

// (b) + (c) resnet18: ORT loads and fuses it, outputs close to float, the ONNX
// checker passes (in Quantize), one record layer per Conv/Gemm, per channel.
TEST(Quantize, Resnet18QdqInOnnxRuntime) {
  REQUIRE_ORT_AND_DATA();
  ASSERT_TRUE(fs::exists(Gen("resnet18/model.onnx"))) << "run testdata/generate.sh";
  auto q = Quantize(Gen("resnet18/model.onnx"), Gen("resnet18/test_data_set_1"), "", "r18");
  ASSERT_TRUE(q.ok()) << q.status();
  for (const char* set : {"test_data_set_0", "test_data_set_1"}) {
    auto d = OrtDiff("resnet18", q->output, set);
    ASSERT_TRUE(d.ok()) << d.status();
    std::printf("resnet18 %s: %s\n", set, d->ToString().c_str());
    EXPECT_GT(d->cosine, 0.98) << set;
  }
  // Every Conv/Gemm became an integer kernel: no float Conv, no leftover DQ.
  auto ops = OrtFusedOps(q->output);
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_EQ((*ops)["QLinearConv"], 20);
  EXPECT_EQ((*ops)["QLinearAdd"], 8);
  EXPECT_EQ((*ops)["QGemm"], 1);
  EXPECT_EQ((*ops)["Conv"], 0);
  EXPECT_EQ((*ops)["DequantizeLinear"], 0);

  auto record = ReadRecord(q->record);
  ASSERT_TRUE(record.ok()) << record.status();
  auto model = LoadModel(q->output);
  ASSERT_TRUE(model.ok());
  int conv_gemm = 0, recorded = 0;
  for (const auto& n : (*model)->graph().nodes()) conv_gemm += n->op_type() == "Conv" || n->op_type() == "Gemm";
  EXPECT_EQ(conv_gemm, 21);
  for (const auto& layer : record->layer()) {
    if (layer.op_type() != "Conv" && layer.op_type() != "Gemm") continue;
    ++recorded;
    SCOPED_TRACE(layer.node());
    ASSERT_TRUE(layer.has_weight());
    EXPECT_EQ(layer.weight().axis(), 0);
    EXPECT_GT(layer.weight().scale_size(), 1);  // per channel
    EXPECT_EQ(layer.weight().scale_size(), layer.weight().zero_point_size());
    ASSERT_TRUE(layer.has_bias());
    EXPECT_EQ(layer.bias().scale_size(), layer.weight().scale_size());
    ASSERT_EQ(layer.input_size(), 1);
    EXPECT_EQ(layer.input(0).type(), UINT8);
    EXPECT_NEAR(layer.bias().scale(0), layer.input(0).scale(0) * layer.weight().scale(0),
                1e-6 * layer.bias().scale(0));
  }
  EXPECT_EQ(recorded, conv_gemm);
}

// (c) on fmnist too: 3 Conv + 1 Gemm, each a record layer with per-channel weights.
// The other schemes on resnet18, run in ONNX Runtime: weight-only 4- and 8-bit
// (MatMulNBits), dynamic (MatMulInteger/ConvInteger) and 16-bit activations
// (com.microsoft Q/DQ before opset 21).
TEST(Quantize, OtherSchemesRunInOnnxRuntime) {
  REQUIRE_ORT_AND_DATA();
  struct Case { const char* scheme; const char* op; double min_cosine; };
  auto in = ReadTensorPbSeries(Gen("resnet18/test_data_set_0"), "input");
  ASSERT_TRUE(in.ok()) << in.status();
  auto ref = RunWithOrt(Gen("resnet18/model.onnx"), *in);
  ASSERT_TRUE(ref.ok()) << ref.status();
  for (Case c : std::vector<Case>{{"w4a16", "MatMulNBits", 0.99},
                                  {"w8a16", "MatMulNBits", 0.9999},
                                  {"dynamic", "ConvInteger", 0.999},
                                  {"w8a16-act", "QuantizeLinear", 0.999}}) {
    SCOPED_TRACE(c.scheme);
    auto q = Quantize(Gen("resnet18/model.onnx"), Gen("resnet18/test_data_set_1"),
                      std::string("{scheme=") + c.scheme + "}", std::string("r18_") + c.scheme);
    ASSERT_TRUE(q.ok()) << q.status();
    auto model = LoadModel(q->output);
    ASSERT_TRUE(model.ok());
    int ops = 0;
    for (const auto& n : (*model)->graph().nodes()) ops += n->op_type() == c.op;
    EXPECT_GT(ops, 0) << "no " << c.op << " in the result";
    auto out = RunWithOrt(q->output, *in);
    ASSERT_TRUE(out.ok()) << out.status();
    TensorDiff d = CompareTensors((*ref)[0].tensor, (*out)[0].tensor);
    std::printf("resnet18 %s: %s\n", c.scheme, d.ToString().c_str());
    EXPECT_GT(d.cosine, c.min_cosine);
  }
}

TEST(Quantize, RecordHasOneLayerPerConvGemm) {
  REQUIRE_ORT_AND_DATA();
  auto q = Quantize(Gen("fmnist/model.onnx"), Gen("fmnist/calib"), "", "fm_record");
  ASSERT_TRUE(q.ok()) << q.status();
  auto record = ReadRecord(q->record);
  ASSERT_TRUE(record.ok()) << record.status();
  std::map<std::string, int> channels = {{"/0/Conv", 16}, {"/4/Conv", 32}, {"/8/Conv", 64}, {"/12/Gemm", 10}};
  int seen = 0;
  for (const auto& layer : record->layer()) {
    if (!channels.count(layer.node())) continue;
    ++seen;
    EXPECT_EQ(layer.weight().scale_size(), channels[layer.node()]) << layer.node();
    EXPECT_EQ(layer.weight().type(), INT8);
  }
  EXPECT_EQ(seen, 4);
  EXPECT_EQ(record->skipped_size(), 0);
}

// (d) a skipped node stays float: float weights, no DequantizeLinear feeding
// it, no Q/DQ on its output, and ONNX Runtime keeps it a float Conv.
TEST(Quantize, SkipKeepsNodeAndItsTensorsFloat) {
  REQUIRE_ORT_AND_DATA();
  auto q = Quantize(Gen("fmnist/model.onnx"), Gen("fmnist/calib"), "{skip=[/4/*]}", "fm_skip");
  ASSERT_TRUE(q.ok()) << q.status();
  auto model = LoadModel(q->output);
  ASSERT_TRUE(model.ok());
  const Node* conv = nullptr;
  for (const auto& n : (*model)->graph().nodes())
    if (n->name() == "/4/Conv") conv = n.get();
  ASSERT_NE(conv, nullptr);
  for (Value* in : conv->inputs()) {
    ASSERT_NE(in, nullptr);
    EXPECT_EQ(in->elem_type(), onnx::TensorProto::FLOAT) << in->name();
    if (in->producer()) EXPECT_NE(in->producer()->op_type(), "DequantizeLinear") << in->name();
  }
  EXPECT_TRUE(conv->input(1)->has_initializer());  // the float weight itself
  // Nor through the MaxPool before it (ORT propagates DQ through MaxPool).
  const Node* pool = conv->input(0)->producer();
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->op_type(), "MaxPool");
  EXPECT_NE(pool->input(0)->producer()->op_type(), "DequantizeLinear");
  for (const Use& u : conv->output(0)->uses()) EXPECT_NE(u.node->op_type(), "QuantizeLinear");
  auto record = ReadRecord(q->record);
  ASSERT_TRUE(record.ok());
  ASSERT_EQ(record->skipped_size(), 1);
  EXPECT_NE(record->skipped(0).find("/4/Conv"), std::string::npos);

  auto ops = OrtFusedOps(q->output);
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_EQ((*ops)["QLinearConv"], 2);  // of 3: ORT did not quantize the skipped one
  // And it still computes the right thing (the Relu after the producer is not lost).
  auto images = ReadNpy(Gen("fmnist/test_images.npy"), 500);
  auto labels = ReadNpy(Gen("fmnist/test_labels.npy"), 500);
  ASSERT_TRUE(images.ok() && labels.ok());
  auto ref = RunWithOrt(Gen("fmnist/model.onnx"), {{"input", *images}});
  auto out = RunWithOrt(q->output, {{"input", *images}});
  ASSERT_TRUE(ref.ok() && out.ok());
  EXPECT_GE(Top1((*out)[0].tensor, *labels), Top1((*ref)[0].tensor, *labels) - 0.01);
  EXPECT_GT(CompareTensors((*ref)[0].tensor, (*out)[0].tensor).sqnr_db, 25);
}

// (e) config errors name the field / value.
TEST(Quantize, ConfigErrorsNameTheField) {
  auto unknown = QuantizationSettings::Parse("activation { method: ENTROPY }\nbogus_field: 3\n", "test.pbtxt");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(std::string(unknown.status().message()).find("bogus_field"), std::string::npos) << unknown.status();
  auto bad = QuantizationSettings::Parse("activation { percentile: 150 }\n", "test.pbtxt");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("percentile"), std::string::npos) << bad.status();
  EXPECT_NE(std::string(bad.status().message()).find("150"), std::string::npos) << bad.status();
  auto enum_bad = QuantizationSettings::Parse("activation { method: KL }\n", "test.pbtxt");
  ASSERT_FALSE(enum_bad.ok());
  EXPECT_NE(std::string(enum_bad.status().message()).find("KL"), std::string::npos) << enum_bad.status();
  auto good = QuantizationSettings::Parse("activation { method: ENTROPY percentile: 99.9 }\n", "test.pbtxt");
  EXPECT_TRUE(good.ok()) << good.status();
  // The pass's own options too, before anything runs.
  auto pm = PassManager::Create("quantize{method=kl}");
  if (!pm.ok()) EXPECT_NE(std::string(pm.status().message()).find("kl"), std::string::npos) << pm.status();
  auto model = LoadModel(std::string(std::getenv("TEST_SRCDIR")) + "/onnxcompress/testdata/models/conv_bn.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  if (pm.ok()) {
    RunSettings settings;
    settings.calibration.data = "random";
    PassContext ctx;
    ctx.settings = &settings;
    absl::Status s = (*pm)->Run(**model, ctx);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(std::string(s.message()).find("kl"), std::string::npos) << s;
  }
}

// (f) the fake-quant model runs in ORT and matches the QDQ model closely.
TEST(Quantize, FakeQuantMatchesQdqInOnnxRuntime) {
  REQUIRE_ORT_AND_DATA();
  auto q = Quantize(Gen("fmnist/model.onnx"), Gen("fmnist/calib"), "", "fm_fake", /*fake_quant=*/true);
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_TRUE(fs::exists(q->fake_quant));
  auto fake = LoadModel(q->fake_quant);
  ASSERT_TRUE(fake.ok());
  int weight_dq = 0;
  for (const auto& n : (*fake)->graph().nodes())
    weight_dq += n->op_type() == "DequantizeLinear" && n->input(0)->has_initializer();
  EXPECT_EQ(weight_dq, 0);  // weights folded back to float
  auto images = ReadNpy(Gen("fmnist/test_images.npy"), 500);
  ASSERT_TRUE(images.ok());
  auto qdq = RunWithOrt(q->output, {{"input", *images}});
  auto sim = RunWithOrt(q->fake_quant, {{"input", *images}});
  ASSERT_TRUE(qdq.ok()) << qdq.status();
  ASSERT_TRUE(sim.ok()) << sim.status();
  TensorDiff d = CompareTensors((*qdq)[0].tensor, (*sim)[0].tensor);
  std::printf("fake-quant vs QDQ (500 images): %s\n", d.ToString().c_str());
  EXPECT_GT(d.sqnr_db, 30);
  EXPECT_GT(d.cosine, 0.999);
}

// A BERT-style encoder (testdata/make_transformer.py): MatMuls become
// QLinearMatMul in ONNX Runtime, and the token embedding table is stored in 8
// bits, with the parameters of the Gather's output, so ONNX Runtime gathers
// 8-bit rows (no DequantizeLinear of the whole table per run).
TEST(Quantize, TransformerWithEmbeddingInOnnxRuntime) {
  REQUIRE_ORT_AND_DATA();
  ASSERT_TRUE(fs::exists(Gen("transformer/model.onnx"))) << "run testdata/generate.sh";
  auto q = Quantize(Gen("transformer/model.onnx"), Gen("transformer/test_data_set_1"), "", "bert");
  ASSERT_TRUE(q.ok()) << q.status();
  for (const char* set : {"test_data_set_0", "test_data_set_1"}) {  // 0 was not used for calibration
    auto d = OrtDiff("transformer", q->output, set);
    ASSERT_TRUE(d.ok()) << d.status();
    std::printf("transformer %s: %s\n", set, d->ToString().c_str());
    EXPECT_GT(d->sqnr_db, 30) << set;
  }
  double ratio = static_cast<double>(fs::file_size(Gen("transformer/model.onnx"))) / fs::file_size(q->output);
  std::printf("transformer: %.2fx smaller\n", ratio);
  EXPECT_GT(ratio, 2.8);  // 1.6x with the float embedding table
  // Ours: the Gather reads a DequantizeLinear of an 8-bit table.
  auto model = LoadModel(q->output);
  ASSERT_TRUE(model.ok()) << model.status();
  auto gather_table = [](const Model& m) -> const Value* {
    for (const auto& n : m.graph().nodes())
      if (n->op_type() == "Gather") return n->input(0);
    return nullptr;
  };
  const Value* t = gather_table(**model);
  ASSERT_NE(t, nullptr);
  ASSERT_NE(t->producer(), nullptr);
  ASSERT_EQ(t->producer()->op_type(), "DequantizeLinear");
  EXPECT_EQ(ElementSize(t->producer()->input(0)->elem_type()), 1u);
  // ONNX Runtime's: the Gather reads the 8-bit initializer itself.
  std::string optimised = Tmp("bert.ort.onnx");
  auto ops = OrtFusedOps(q->output, optimised);
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_GE((*ops)["QLinearMatMul"], 8);
  auto ort_model = LoadModel(optimised);
  ASSERT_TRUE(ort_model.ok()) << ort_model.status();
  const Value* ot = gather_table(**ort_model);
  ASSERT_NE(ot, nullptr);
  EXPECT_TRUE(ot->has_initializer()) << ot->name();
  EXPECT_EQ(ElementSize(ot->elem_type()), 1u);
}

// (g) a CNN's file is at least 3.5x smaller.
TEST(Quantize, FashionMnistFileAtLeast3_5xSmaller) {
  REQUIRE_ORT_AND_DATA();
  auto q = Quantize(Gen("fmnist/model.onnx"), Gen("fmnist/calib"), "", "fm_size");
  ASSERT_TRUE(q.ok()) << q.status();
  double ratio = static_cast<double>(fs::file_size(Gen("fmnist/model.onnx"))) / fs::file_size(q->output);
  std::printf("fmnist: %lld -> %lld bytes, %.2fx smaller\n",
              static_cast<long long>(fs::file_size(Gen("fmnist/model.onnx"))),
              static_cast<long long>(fs::file_size(q->output)), ratio);
  EXPECT_GE(ratio, 3.5);
}

}  // namespace
}  // namespace onnxc
