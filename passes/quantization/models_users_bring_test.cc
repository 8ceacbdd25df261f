// The models users bring (README "Which models work"), one test per row:
// old opsets with Constant-node weights, opsets newer than ONNX 1.12 knows,
// recurrent networks (also inside If branches), float16 models, and models
// already quantized in QDQ, QOperator or dynamic form. Each is quantized the
// way compress does and run in ONNX Runtime at its default level.
#include <cmath>
#include <cstdio>
#include <map>

#include "gtest/gtest.h"
#include "ir/export.h"
#include "ir/import.h"
#include "ir/tensor_io.h"
#include "kernels/executor.h"
#include "passes/pass/pass_manager.h"
#include "passes/quantization/quantize_testutil.h"

namespace onnxc {
namespace {

std::map<std::string, int> OpCounts(const Model& m, bool subgraphs = true) {
  std::map<std::string, int> counts;
  const_cast<Model&>(m).graph().ForEachGraph([&](Graph* g) {
    if (!subgraphs && g != &m.graph()) return;
    for (const auto& n : g->nodes()) ++counts[n->op_type()];
  });
  return counts;
}

std::vector<std::pair<std::string, Tensor>> Feed(const std::vector<NamedTensor>& in) {
  std::vector<std::pair<std::string, Tensor>> feed;
  for (const auto& t : in) feed.emplace_back(t.name, t.tensor);
  return feed;
}

// A model's outputs in ORT against another's, on the same inputs: the first
// output, and the worst cosine over all of them in `worst_cosine`.
TensorDiff OrtAgreement(const std::string& a, const std::string& b, const std::vector<NamedTensor>& in,
                        double* worst_cosine = nullptr) {
  auto ra = RunWithOrt(a, in), rb = RunWithOrt(b, in);
  EXPECT_TRUE(ra.ok()) << ra.status();
  EXPECT_TRUE(rb.ok()) << rb.status();
  if (!ra.ok() || !rb.ok()) return TensorDiff{};
  EXPECT_EQ(ra->size(), rb->size());
  double worst = 1;
  for (size_t i = 0; i < ra->size() && i < rb->size(); ++i) {
    TensorDiff d = CompareTensors((*ra)[i].tensor, (*rb)[i].tensor);
    if (ra->size() > 1) std::printf("  output '%s': %s\n", (*ra)[i].name.c_str(), d.ToString().c_str());
    worst = std::min(worst, d.cosine);
  }
  if (worst_cosine) *worst_cosine = worst;
  return CompareTensors((*ra)[0].tensor, (*rb)[0].tensor);
}

// Runs `pipeline` on `input` (no calibration data: random), saved to a temp file.
absl::StatusOr<std::string> RunPipeline(const std::string& input, const std::string& pipeline, const std::string& tag) {
  auto model = LoadModel(input);
  if (!model.ok()) return model.status();
  auto pm = PassManager::Create(pipeline);
  if (!pm.ok()) return pm.status();
  absl::Status s = (*pm)->Run(**model, {});
  if (!s.ok()) return s;
  std::string out = Tmp(tag + ".onnx");
  s = SaveModel(**model, out);
  if (!s.ok()) return s;
  return out;
}

// Row: opset 7-9 models, weights in Constant nodes.
TEST(ModelsUsersBring, Opset9ConstantNodeWeightsUpgradeAndQuantize) {
  REQUIRE_ORT_AND_DATA();
  const std::string old = Gen("fmnist_opset9/model.onnx");
  auto original = LoadModel(old);
  ASSERT_TRUE(original.ok()) << original.status();
  ASSERT_EQ((*original)->OpsetVersion(""), 9);
  // upgrade-opset alone: Constant nodes and node names stay, outputs the same.
  auto upgraded = RunPipeline(old, "upgrade-opset{to=13}", "op9_up");
  ASSERT_TRUE(upgraded.ok()) << upgraded.status();
  auto up = LoadModel(*upgraded);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ((*up)->OpsetVersion(""), 13);
  EXPECT_EQ(OpCounts(**up)["Constant"], OpCounts(**original)["Constant"]);
  std::set<std::string> names;
  for (const auto& n : (*original)->graph().nodes()) names.insert(n->name());
  for (const auto& n : (*up)->graph().nodes()) EXPECT_TRUE(names.count(n->name()) || n->name().empty()) << n->name();
  auto in = ReadTensorPbSeries(Gen("fmnist_opset9/test_data_set_0"), "input");
  ASSERT_TRUE(in.ok());
  TensorDiff same = OrtAgreement(old, *upgraded, *in);
  EXPECT_GT(same.sqnr_db, 100) << same.ToString();
  // quantize upgrades by itself (Q/DQ need 10, per-channel 13) and the
  // result runs in ORT with the accuracy of the opset-13 model.
  auto q = Quantize(old, Gen("fmnist/calib"), "", "op9_q");
  ASSERT_TRUE(q.ok()) << q.status();
  auto qm = LoadModel(q->output);
  ASSERT_TRUE(qm.ok());
  EXPECT_EQ((*qm)->OpsetVersion(""), 13);
  EXPECT_GT(OpCounts(**qm)["QuantizeLinear"], 3);
  auto images = ReadNpy(Gen("fmnist/test_images.npy"), 2000);
  auto labels = ReadNpy(Gen("fmnist/test_labels.npy"), 2000);
  ASSERT_TRUE(images.ok() && labels.ok());
  auto ref = RunWithOrt(old, {{"input", *images}});
  auto out = RunWithOrt(q->output, {{"input", *images}});
  ASSERT_TRUE(ref.ok() && out.ok());
  double f = Top1((*ref)[0].tensor, *labels), t = Top1((*out)[0].tensor, *labels);
  std::printf("opset 9 fmnist: float %.4f, quantized (opset 13) %.4f\n", f, t);
  EXPECT_GE(t, f - 0.005);
}

// Row: a third-party opset-9 model (PaddleOCR's text-direction classifier, all
// weights in Constant nodes, BN unfused).
TEST(ModelsUsersBring, PaddleOcrOpset9QuantizesAndRuns) {
  REQUIRE_ORT_AND_DATA();
  const std::string m = Gen("thirdparty/ppocr_cls_op9.onnx");
  auto q = Quantize(m, Gen("thirdparty/ppocr_cls_op9/test_data_set_0"), "", "ppocr_q");
  ASSERT_TRUE(q.ok()) << q.status();
  auto in = ReadTensorPbSeries(Gen("thirdparty/ppocr_cls_op9/test_data_set_0"), "input");
  ASSERT_TRUE(in.ok());
  TensorDiff d = OrtAgreement(m, q->output, *in);
  std::printf("ppocr_cls_op9 quantized: %s\n", d.ToString().c_str());
  EXPECT_GT(d.cosine, 0.99);
}

// Row: opsets 18-21 and IR 10 (newer than ONNX 1.12 knows): loaded, rewritten
// and saved losslessly, quantized, run in ORT.
TEST(ModelsUsersBring, NewerOpsetThanOnnx112Knows) {
  REQUIRE_ORT_AND_DATA();
  const std::string m = Gen("thirdparty/silero_vad_op18.onnx");
  auto model = LoadModel(m);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ((*model)->ir_version(), 10);
  EXPECT_EQ((*model)->OpsetVersion(""), 18);
  auto in = ReadTensorPbSeries(Gen("thirdparty/silero_vad_op18/test_data_set_0"), "input");
  ASSERT_TRUE(in.ok()) << in.status();
  auto optimized = RunPipeline(m, "optimize", "op18_opt");
  ASSERT_TRUE(optimized.ok()) << optimized.status();
  TensorDiff same = OrtAgreement(m, *optimized, *in);
  EXPECT_GT(same.sqnr_db, 80) << same.ToString();
  auto q = Quantize(m, Gen("thirdparty/silero_vad_op18/test_data_set_0"), "", "op18_q", false, /*checker=*/false);
  ASSERT_TRUE(q.ok()) << q.status();
  // The calibration sample starts the recurrent state at zero: the nodes
  // reading it have no range and stay float (said so in the record).
  auto record = ReadRecord(q->record);
  ASSERT_TRUE(record.ok()) << record.status();
  int zero_state = 0;
  for (const auto& s : record->skipped()) zero_state += s.find("was 0 in every calibration sample") != std::string::npos;
  EXPECT_GE(zero_state, 2);
  double worst = 0;
  TensorDiff d = OrtAgreement(m, q->output, *in, &worst);
  std::printf("silero op18 quantized: %s, worst cosine %.5f\n", d.ToString().c_str(), worst);
  EXPECT_GT(d.cosine, 0.99);
}

// Row: LSTM, GRU and RNN (bidirectional, sequence_lens, initial states),
// also inside If branches (Silero VAD): the kernels agree with ORT.
TEST(ModelsUsersBring, RecurrentModelsMatchOnnxRuntime) {
  REQUIRE_ORT_AND_DATA();
  for (const char* name : {"lstm_seq", "lstm_seq_lens", "rnn_seq", "thirdparty/silero_vad_legacy",
                           "thirdparty/silero_vad_v5"}) {
    SCOPED_TRACE(name);
    std::string dir = std::string(name);
    std::string path = Gen(dir + (dir.rfind("thirdparty/", 0) == 0 ? ".onnx" : "/model.onnx"));
    auto in = ReadTensorPbSeries(Gen(dir + "/test_data_set_0"), "input");
    ASSERT_TRUE(in.ok()) << in.status();
    auto model = LoadModel(path);
    ASSERT_TRUE(model.ok()) << model.status();
    auto ex = Executor::Create(**model, ExecutorOptions{});
    ASSERT_TRUE(ex.ok()) << ex.status();
    auto ours = (*ex)->Run(Feed(*in));
    ASSERT_TRUE(ours.ok()) << ours.status();
    auto ort = RunWithOrt(path, *in);
    ASSERT_TRUE(ort.ok()) << ort.status();
    for (size_t i = 0; i < ort->size(); ++i) {
      TensorDiff d = CompareTensors((*ort)[i].tensor, (*ours)[i]);
      std::printf("%s output %zu: %s\n", name, i, d.ToString().c_str());
      EXPECT_GT(d.sqnr_db, 60) << "output " << i;
    }
  }
}

// Row: recurrent ops stay float, the Convs and Gemms around them (inside If
// branches too) are quantized; the result runs in ORT.
TEST(ModelsUsersBring, RecurrentModelsQuantizeAroundTheRecurrentOps) {
  REQUIRE_ORT_AND_DATA();
  auto q = Quantize(Gen("lstm_seq/model.onnx"), Gen("lstm_seq/calib"), "", "lstm_q");
  ASSERT_TRUE(q.ok()) << q.status();
  auto qm = LoadModel(q->output);
  ASSERT_TRUE(qm.ok());
  auto counts = OpCounts(**qm);
  EXPECT_EQ(counts["LSTM"], 2);
  EXPECT_EQ(counts["GRU"], 1);
  EXPECT_GT(counts["QuantizeLinear"], 0);
  auto seqs = ReadNpy(Gen("lstm_seq/test_sequences.npy"), 500);
  auto labels = ReadNpy(Gen("lstm_seq/test_labels.npy"), 500);
  ASSERT_TRUE(seqs.ok() && labels.ok()) << seqs.status() << labels.status();
  auto float_model = LoadModel(Gen("lstm_seq/model.onnx"));
  ASSERT_TRUE(float_model.ok());
  const std::string input = (*float_model)->graph().inputs()[0]->name();
  auto ref = RunWithOrt(Gen("lstm_seq/model.onnx"), {{input, *seqs}});
  auto out = RunWithOrt(q->output, {{input, *seqs}});
  ASSERT_TRUE(ref.ok() && out.ok()) << ref.status() << out.status();
  double f = Top1((*ref)[0].tensor, *labels), t = Top1((*out)[0].tensor, *labels);
  std::printf("lstm_seq: float %.4f, quantized around the LSTMs %.4f\n", f, t);
  EXPECT_GE(t, f - 0.01);

  // Silero VAD: every Conv sits inside If branches; calibration runs through
  // them and the branch that ran gets quantized.
  const std::string vad = Gen("thirdparty/silero_vad_legacy.onnx");
  auto qv = Quantize(vad, Gen("thirdparty/silero_vad_legacy/test_data_set_0"), "", "vad_q");
  ASSERT_TRUE(qv.ok()) << qv.status();
  auto vm = LoadModel(qv->output);
  ASSERT_TRUE(vm.ok());
  auto inside = OpCounts(**vm), top = OpCounts(**vm, /*subgraphs=*/false);
  EXPECT_GT(inside["QuantizeLinear"] - top["QuantizeLinear"], 0) << "nothing quantized inside the If branches";
  EXPECT_EQ(inside["LSTM"], 8);
  auto in = ReadTensorPbSeries(Gen("thirdparty/silero_vad_legacy/test_data_set_0"), "input");
  ASSERT_TRUE(in.ok());
  double worst = 0;
  OrtAgreement(vad, qv->output, *in, &worst);
  std::printf("silero_vad_legacy quantized inside its If branches: worst cosine %.5f\n", worst);
  EXPECT_GT(worst, 0.99);
}

// Row: float16 models. The result keeps float16 inputs and outputs and runs
// in ORT (int8 in a float32 region).
TEST(ModelsUsersBring, Float16ModelKeepsItsTypesAndRunsInOnnxRuntime) {
  REQUIRE_ORT_AND_DATA();
  const std::string m = Gen("fmnist_fp16/model.onnx");
  auto q = Quantize(m, Gen("fmnist_fp16/calib"), "", "fp16_q");
  ASSERT_TRUE(q.ok()) << q.status();
  auto qm = LoadModel(q->output);
  ASSERT_TRUE(qm.ok());
  EXPECT_EQ((*qm)->graph().inputs()[0]->elem_type(), onnx::TensorProto::FLOAT16);
  EXPECT_EQ((*qm)->graph().outputs()[0]->elem_type(), onnx::TensorProto::FLOAT16);
  EXPECT_GE(OpCounts(**qm)["QuantizeLinear"], 4);
  auto in = ReadTensorPbSeries(Gen("fmnist_fp16/test_data_set_0"), "input");
  ASSERT_TRUE(in.ok());
  TensorDiff d = OrtAgreement(m, q->output, *in);
  std::printf("fmnist fp16 quantized: %s\n", d.ToString().c_str());
  EXPECT_GT(d.sqnr_db, 30);
  auto ops = OrtFusedOps(q->output);
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_EQ((*ops)["QLinearConv"], 3) << "int8 kernels in the float32 region";
}

// Row: a third-party float16 model (Silero VAD with fp16 weights and
// activations inside If branches, float32 inputs and outputs).
TEST(ModelsUsersBring, ThirdPartyFloat16ModelWithIfBranches) {
  REQUIRE_ORT_AND_DATA();
  const std::string m = Gen("thirdparty/silero_vad_half.onnx");
  const std::string data = Gen("thirdparty/silero_vad_half/test_data_set_0");
  auto q = Quantize(m, data, "", "vad_half_q");
  ASSERT_TRUE(q.ok()) << q.status();
  auto qm = LoadModel(q->output);
  ASSERT_TRUE(qm.ok());
  EXPECT_GT(OpCounts(**qm)["QuantizeLinear"], 0);
  auto in = ReadTensorPbSeries(data, "input");
  ASSERT_TRUE(in.ok());
  TensorDiff d = OrtAgreement(m, q->output, *in);
  std::printf("silero_vad_half quantized: %s\n", d.ToString().c_str());
  EXPECT_GT(d.cosine, 0.99);
}

// Row: models already quantized: QDQ (ours), QOperator (QLinearConv), and
// ORT's dynamic form (DynamicQuantizeLinear, MatMulInteger, ConvInteger).
TEST(ModelsUsersBring, AlreadyQuantizedPartsAreLeftAlone) {
  REQUIRE_ORT_AND_DATA();
  auto once = Quantize(Gen("fmnist/model.onnx"), Gen("fmnist/calib"), "", "aq_once");
  ASSERT_TRUE(once.ok()) << once.status();
  auto twice = Quantize(once->output, Gen("fmnist/calib"), "", "aq_twice");
  ASSERT_TRUE(twice.ok()) << twice.status();
  auto m1 = LoadModel(once->output), m2 = LoadModel(twice->output);
  ASSERT_TRUE(m1.ok() && m2.ok());
  EXPECT_EQ(OpCounts(**m2)["QuantizeLinear"], OpCounts(**m1)["QuantizeLinear"]);
  EXPECT_EQ(OpCounts(**m2)["DequantizeLinear"], OpCounts(**m1)["DequantizeLinear"]);
  auto in = ReadTensorPbSeries(Gen("fmnist/test_data_set_0"), "input");
  ASSERT_TRUE(in.ok());
  EXPECT_GT(OrtAgreement(once->output, twice->output, *in).sqnr_db, 100);

  // QOperator form: lower-qdq's output, quantized again.
  auto lowered = RunPipeline(once->output, "lower-qdq", "aq_lowered");
  ASSERT_TRUE(lowered.ok()) << lowered.status();
  auto q3 = Quantize(*lowered, Gen("fmnist/calib"), "", "aq_qop");
  ASSERT_TRUE(q3.ok()) << q3.status();
  auto m3 = LoadModel(q3->output);
  ASSERT_TRUE(m3.ok());
  EXPECT_EQ(OpCounts(**m3)["QLinearConv"], 3);
  EXPECT_EQ(OpCounts(**m3)["QuantizeLinear"], 1);  // the input's, from lower-qdq
  EXPECT_GT(OrtAgreement(*lowered, q3->output, *in).sqnr_db, 100);

  // ORT's dynamic quantization (Whisper-tiny's encoder). By default a model
  // quantized already is left as it is; already-quantized=extend quantizes
  // its float ops too and keeps every DynamicQuantizeLinear / MatMulInteger /
  // ConvInteger.
  const std::string whisper = Gen("thirdparty/whisper_tiny_encoder_q8.onnx");
  const std::string wcalib = Gen("thirdparty/whisper_tiny_encoder_q8/test_data_set_0");
  auto wm = LoadModel(whisper);
  ASSERT_TRUE(wm.ok());
  auto win = ReadTensorPbSeries(wcalib, "input");
  ASSERT_TRUE(win.ok());
  auto kept = Quantize(whisper, wcalib, "", "aq_whisper");
  ASSERT_TRUE(kept.ok()) << kept.status();
  auto wk = LoadModel(kept->output);
  ASSERT_TRUE(wk.ok());
  EXPECT_EQ(OpCounts(**wk)["QuantizeLinear"], 0);
  EXPECT_EQ((*wk)->OpsetVersion(""), 11) << "left as it is: not even upgraded";
  EXPECT_GT(OrtAgreement(whisper, kept->output, *win).sqnr_db, 100);
  auto extended = Quantize(whisper, wcalib, "{already-quantized=extend}", "aq_whisper_ext");
  ASSERT_TRUE(extended.ok()) << extended.status();
  auto we = LoadModel(extended->output);
  ASSERT_TRUE(we.ok());
  for (const char* op : {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger"})
    EXPECT_EQ(OpCounts(**we)[op], OpCounts(**wm)[op]) << op;
  EXPECT_GT(OpCounts(**we)["QuantizeLinear"], 0);
  auto ran = RunWithOrt(extended->output, *win);
  ASSERT_TRUE(ran.ok()) << ran.status();
  TensorDiff d = OrtAgreement(whisper, extended->output, *win);
  // Not an accuracy claim: min/max int8 on a transformer's residual stream
  // is the PTQ-accuracy issue's business.
  std::printf("whisper encoder (ORT dynamic int8), float ops quantized too: %s\n", d.ToString().c_str());
}

}  // namespace
}  // namespace onnxc
