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
#include "absl/strings/str_cat.h"
#include "analysis/calibration/calibration_data.h"
#include "kernels/cpu_features.h"
#include "kernels/executor.h"
#include "passes/quantization/amct_record.h"
#include "passes/quantization/deployment_target.h"
#include "passes/quantization/quantize_testutil.h"
#include "passes/quantization/quantizer.h"
#include "passes/quantization/target_emulation.h"
#include "testdata/ort_runner.h"

namespace onnxc {
namespace {

namespace fs = std::filesystem;

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

// method=auto quantizes with minmax, mse and percentile ranges, keeps the one
// whose outputs are closest to float's on calibration samples, and its model
// is exactly what that method gives (same outputs in ORT). Passes that only
// quantize copies (fallback, layer-sensitivity) refuse it with the reason.
TEST(Quantize, MethodAutoKeepsTheMeasuredBestMethod) {
  REQUIRE_ORT_AND_DATA();
  auto run = RunPipelineOnFile(Gen("fmnist/model.onnx"), Gen("fmnist/calib"), "quantize{method=auto}",
                               Tmp("fm_auto.onnx"));
  ASSERT_TRUE(run.ok()) << run.status();
  nlohmann::json choice;
  for (const auto& p : run->report["passes"])
    if (p["pass"] == "quantize") choice = p["details"]["range_method_auto"];
  ASSERT_FALSE(choice.is_null()) << run->report.dump().substr(0, 2000);
  ASSERT_EQ(choice["candidates"].size(), 3u);
  const std::string chosen = choice["chosen"];
  double best = -1e9, chosen_sqnr = 0;
  for (const auto& c : choice["candidates"]) {
    const double sqnr = c["outputs"]["sqnr_db"].get<double>();
    best = std::max(best, sqnr);
    if (c["method"] == chosen) chosen_sqnr = sqnr;
    std::printf("method=auto candidate %s: output SQNR %.2f dB on %d samples\n",
                c["method"].get<std::string>().c_str(), sqnr, choice["samples"].get<int>());
  }
  EXPECT_EQ(chosen_sqnr, best);
  EXPECT_GT(choice["samples"].get<int>(), 1);

  auto same = RunPipelineOnFile(Gen("fmnist/model.onnx"), Gen("fmnist/calib"), "quantize{method=" + chosen + "}",
                                Tmp("fm_auto_same.onnx"));
  ASSERT_TRUE(same.ok()) << same.status();
  auto in = ReadTensorPbSeries(Gen("fmnist/test_data_set_0"), "input");
  ASSERT_TRUE(in.ok()) << in.status();
  auto a = RunWithOrt(run->output, *in), b = RunWithOrt(same->output, *in);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(CompareTensors((*a)[0].tensor, (*b)[0].tensor).max_abs, 0.0);

  auto refused = RunPipelineOnFile(Gen("fmnist/model.onnx"), Gen("fmnist/calib"), "fallback{top-k=1,method=auto}",
                                   Tmp("fm_auto_fallback.onnx"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("fallback: method=auto is chosen by the quantize pass"), std::string::npos)
      << refused.status();
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
// it, and ONNX Runtime keeps it a float Conv.
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
  // Its output is rounded only for the quantized readers after it, through a
  // Q/DQ pair they read (so they really run in int8), never in place of the
  // float tensor for its other readers.
  for (const Use& u : conv->output(0)->uses()) {
    if (u.node->op_type() != "QuantizeLinear") continue;
    for (const Use& d : u.node->output(0)->uses()) EXPECT_EQ(d.node->op_type(), "DequantizeLinear");
  }
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

// (f) the fake-quant model is a float simulation of the QDQ model: in ONNX
// Runtime with graph optimisations off (Q/DQ computed as written, what a
// float framework does) the two agree to float rounding. (At ORT's default
// level a fake-quant model is no longer a simulation: ORT quantizes its float
// weights itself, per tensor and with the full int8 range, which also
// saturates on x86 without VNNI.)
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
  OrtOptions as_written;
  as_written.opt = "disabled";
  auto qdq = RunWithOrt(q->output, {{"input", *images}}, as_written);
  auto sim = RunWithOrt(q->fake_quant, {{"input", *images}}, as_written);
  ASSERT_TRUE(qdq.ok()) << qdq.status();
  ASSERT_TRUE(sim.ok()) << sim.status();
  TensorDiff d = CompareTensors((*qdq)[0].tensor, (*sim)[0].tensor);
  std::printf("fake-quant vs QDQ (500 images, optimisations off): %s\n", d.ToString().c_str());
  EXPECT_GT(d.sqnr_db, 60);
  EXPECT_GT(d.cosine, 0.999999);
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


// compress's "what it cost" computes the quantized model the way its target
// does (fused integer kernels, ORT's requantisation, int16 pair saturation
// on x86 without VNNI). Its SQNR must be within 1 dB of ONNX Runtime's at the
// default optimisation level: on this machine for the targets that match it,
// and, on any machine, against ORT run as on an AVX2 CPU without VNNI (under
// qemu) for full-range weights (x86-vnni, which saturate there) and for the
// pair-safe default (portable, which does not).
TEST(Quantize, CheckComputesWhatOnnxRuntimeComputes) {
  REQUIRE_ORT_AND_DATA();
  ASSERT_TRUE(CanEmulateAvx2()) << "qemu-x86_64 missing (tools/setup.sh installs qemu-user)";
  const CpuFeatures cpu = DetectCpuFeatures();
  // ORT here computes as an AVX2 CPU without VNNI when this one is one, or
  // when the whole suite runs ORT under qemu (ONNXC_ORT_EMULATE_AVX2=1).
  const bool host_saturates = cpu.SaturatesU8S8() || OrtNodeCommand() != "node";
  const std::string native_target = host_saturates ? "x86-avx2" : "x86-vnni";
  std::printf("this machine: %s (%s); ONNX Runtime here computes as %s\n", cpu.model.c_str(), cpu.Describe().c_str(),
              native_target.c_str());
  // `output`: the output compared (Silero's first output is a speech
  // probability that random input keeps at its floor; its LSTM state is not).
  struct Case {
    std::string name, model, calib, inputs;
    int output = 0;
  };
  std::vector<Case> cases;
  for (const char* n : {"fmnist", "fmnist_resnet", "resnet18", "mobilenet_v2", "shufflenet_v2", "efficientnet_b0",
                        "transformer", "audio_kws"}) {
    const std::string name = n;
    const bool own_calib = name == "fmnist" || name == "fmnist_resnet" || name == "audio_kws";
    cases.push_back({name, name + "/model.onnx", own_calib ? name + "/calib" : name + "/test_data_set_1",
                     name + "/test_data_set_0"});
  }
  // Integer kernels inside If branches (ORT fuses in subgraphs too).
  cases.push_back({"silero_vad", "thirdparty/silero_vad_legacy.onnx", "thirdparty/silero_vad_legacy/test_data_set_0",
                   "thirdparty/silero_vad_legacy/test_data_set_0", 1});
  for (const Case& c : cases) {
    auto inputs = ReadTensorPbSeries(Gen(c.inputs), "input");
    ASSERT_TRUE(inputs.ok()) << inputs.status();
    auto ref = RunWithOrt(Gen(c.model), *inputs);
    ASSERT_TRUE(ref.ok()) << ref.status();
    for (const std::string& t : {std::string("portable"), std::string("x86-vnni"), native_target}) {
      SCOPED_TRACE(std::string(c.name) + " " + t);
      auto q = Quantize(Gen(c.model), Gen(c.calib), "{target=" + t + "}",
                        absl::StrCat("chk_", c.name, "_", t));
      ASSERT_TRUE(q.ok()) << q.status();
      auto model = LoadModel(q->output);
      ASSERT_TRUE(model.ok()) << model.status();
      // Ours: the target's emulation, and the same with x86 int16 pairs.
      auto emulate = [&](const std::string& as) -> double {
        auto target = FindDeploymentTarget(as);
        EXPECT_TRUE(target.ok());
        ExecutorOptions eo;
        eo.threads = 2;
        auto e = EmulateTarget(**model, **target, eo);
        EXPECT_TRUE(e.ok()) << e.status();
        auto ex = Executor::Create(*e->model, e->executor);
        EXPECT_TRUE(ex.ok()) << ex.status();
        std::vector<std::pair<std::string, Tensor>> feed;
        for (const auto& in : *inputs) feed.emplace_back(in.name, in.tensor);
        auto out = (*ex)->Run(feed);
        EXPECT_TRUE(out.ok()) << out.status();
        return out.ok() ? CompareTensors((*ref)[c.output].tensor, (*out)[c.output]).sqnr_db : 0.0;
      };
      auto ort_sqnr = [&](bool avx2) {
        OrtOptions o;
        o.emulate_avx2 = avx2;
        auto out = RunWithOrt(q->output, *inputs, o);
        EXPECT_TRUE(out.ok()) << out.status();
        return out.ok() ? CompareTensors((*ref)[c.output].tensor, (*out)[c.output].tensor).sqnr_db : 0.0;
      };
      double ours_host = emulate(t == "portable" ? "portable" : native_target);
      double ours_avx2 = emulate("x86-avx2");
      double ort_host = ort_sqnr(false), ort_avx2 = ort_sqnr(true);
      std::printf("%-16s target %-9s: check %.2f dB vs ORT here %.2f dB; as on AVX2: check %.2f dB vs ORT %.2f dB\n",
                  c.name.c_str(), t.c_str(), ours_host, ort_host, ours_avx2, ort_avx2);
      if (t == native_target || t == "portable") {
        EXPECT_NEAR(ours_host, ort_host, 1.0);
      }
      EXPECT_NEAR(ours_avx2, ort_avx2, 1.0);
    }
  }
}


// SearchN (target ascend): every quantized Conv/Gemm of the Fashion-MNIST CNN
// has one shift_bit per weight scale, equal to a direct computation from
// all of the layer's float outputs held in memory (the analysis streams).
TEST(Quantize, AscendRecordHasSearchNShiftBits) {
  REQUIRE_ORT_AND_DATA();
  auto q = Quantize(Gen("fmnist/model.onnx"), Gen("fmnist/calib"), "{target=ascend}", "fm_ascend");
  ASSERT_TRUE(q.ok()) << q.status();
  auto record = ReadRecord(q->record);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->target(), "ascend");
  // The float model quantize saw (after optimize), and every output of each layer.
  auto model = LoadModel(Gen("fmnist/model.onnx"));
  ASSERT_TRUE(model.ok());
  auto pm = PassManager::Create("optimize");
  ASSERT_TRUE(pm.ok());
  ASSERT_TRUE((*pm)->Run(**model, {}).ok());
  std::map<std::string, std::vector<float>> outputs;  // value name -> all batches, concatenated
  std::map<std::string, std::vector<int64_t>> dims;
  auto data = CalibrationData::Open(**model, Gen("fmnist/calib"));
  ASSERT_TRUE(data.ok());
  auto ex = Executor::Create(**model, ExecutorOptions{});
  ASSERT_TRUE(ex.ok());
  Observer keep = [&](const Value& v, const TensorView& t) {
    if (t.type != onnx::TensorProto::FLOAT) return;
    auto span = t.span<float>();
    outputs[v.name()].insert(outputs[v.name()].end(), span.begin(), span.end());
    dims[v.name()].assign(t.dims.begin(), t.dims.end());
  };
  for (;;) {
    auto s = (*data)->Next();
    ASSERT_TRUE(s.ok());
    if (!s->has_value()) break;
    ASSERT_TRUE((*ex)->Run((**s).inputs, &keep).ok());
  }
  std::map<std::string, const Node*> node_of;
  for (const auto& [n, id] : StableNodeIds((*model)->graph())) node_of[id] = n;
  int layers = 0;
  for (const auto& l : record->layer()) {
    if (l.op_type() != "Conv" && l.op_type() != "Gemm") continue;
    ++layers;
    SCOPED_TRACE(l.node());
    ASSERT_EQ(l.shift_bit_size(), l.weight().scale_size());
    const std::string out = node_of.at(l.node())->output(0)->name();
    const std::vector<float>& y = outputs.at(out);
    const std::vector<int64_t>& d = dims.at(out);
    const int64_t channels = l.op_type() == "Conv" ? d[1] : d.back();
    const int64_t inner = l.op_type() == "Conv" ? d[2] * d[3] : 1;
    const bool per_tensor = l.weight().scale_size() == 1;  // one N for all channels (AMCT's Gemm)
    for (int64_t c = 0; c < (per_tensor ? 1 : channels); ++c) {
      const double scale = static_cast<double>(l.input(0).scale(0)) * l.weight().scale(per_tensor ? 0 : c);
      int best = 1;
      double best_err = INFINITY;
      for (int n = 1; n <= 16; ++n) {
        double err = 0;
        for (size_t i = 0; i < y.size(); ++i) {
          if (!per_tensor && static_cast<int64_t>(i / inner) % channels != c) continue;
          double s32 = std::clamp(std::nearbyint(y[i] / scale), -2147483648.0, 2147483647.0);
          double s16 = std::clamp(std::floor(s32 / std::ldexp(1.0, n)), -32768.0, 32767.0);
          err += std::pow(s32 - s16 * std::ldexp(1.0, n), 2);
        }
        if (err <= best_err) best_err = err, best = n;
      }
      EXPECT_EQ(l.shift_bit(static_cast<int>(c)), best) << "channel " << c;
    }
  }
  EXPECT_EQ(layers, 4);
  // AMCT's own record sits next to it.
  std::ifstream amct(AmctRecordPath(q->record));
  std::stringstream text;
  text << amct.rdbuf();
  EXPECT_NE(text.str().find("shift_bit:"), std::string::npos);
  EXPECT_NE(text.str().find("scale_d:"), std::string::npos);
  EXPECT_NE(text.str().find("offset_d:"), std::string::npos);
}

// A log-mel front end: the power spectrum before Log spans orders of
// magnitude; 8-bit steps erase its quiet bins and Log magnifies the loss.
// The ops computing Log's input stay float, with the reason in the record,
// and the classifier's logits hold up in ONNX Runtime on held-out audio
// (they were at -5.5 dB with the power spectrum quantized).
TEST(Quantize, LogMelFrontEndStaysFloatBeforeLog) {
  REQUIRE_ORT_AND_DATA();
  auto q = Quantize(Gen("audio_kws/model.onnx"), Gen("audio_kws/calib"), "", "audio_logmel");
  ASSERT_TRUE(q.ok()) << q.status();
  auto record = ReadRecord(q->record);
  ASSERT_TRUE(record.ok()) << record.status();
  int log_domain = 0;
  for (const std::string& s : record->skipped()) log_domain += s.find("the input of Log") != std::string::npos;
  EXPECT_GE(log_domain, 3);  // the mel MatMul and the Adds around it
  auto d = OrtDiff("audio_kws", q->output, "test_data_set_1");
  ASSERT_TRUE(d.ok()) << d.status();
  std::printf("log-mel classifier W8A8 in ORT, held-out: SQNR %.1f dB, cosine %.5f\n", d->sqnr_db, d->cosine);
  EXPECT_GT(d->sqnr_db, 15.0);
  EXPECT_GT(d->cosine, 0.99);
}

}  // namespace
}  // namespace onnxc
