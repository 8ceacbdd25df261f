// sparsify and verify-sparsity on the trained Fashion-MNIST CNNs, judged in
// ONNX Runtime (default optimisation level) on the 10k test set, and the
// saved files read back with protobuf (not our IR) to check the pattern.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "gtest/gtest.h"
#include "ir/export.h"
#include "ir/import.h"
#include "ir/verifier.h"
#include "nlohmann/json.hpp"
#include "onnx/onnx_pb.h"
#include "passes/pass/pass_manager.h"
#include "passes/quantization/quantize_testutil.h"
#include "passes/sparsity/nm_pattern.h"
#include "passes/sparsity/sparse_gpt.h"
#include "passes/sparsity/sparsity_record.h"
#include "passes/sparsity/sparsity_run_settings.h"

namespace onnxc {
namespace {

namespace fs = std::filesystem;

TEST(NmPattern, ParsesAndRefuses) {
  auto p = NmPattern::Parse("2:4");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->keep, 2);
  EXPECT_EQ(p->group, 4);
  EXPECT_FALSE(NmPattern::Parse("4:2").ok());
  EXPECT_FALSE(NmPattern::Parse("2-4").ok());
}

TEST(NmPattern, PaddingCountsAsPruned) {
  // 6 real features padded to 8: the second group has 2 real ones, both kept.
  Eigen::MatrixXd scores(1, 8);
  scores << 4, 1, 3, 2, 5, 6, 0, 0;
  Mask m = SelectMask(scores, {2, 4}, [](int64_t f) { return f >= 6; });
  std::vector<bool> want = {true, false, true, false, true, true, false, false};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(m(0, i), want[i]) << i;
}

// Independent zero-mean inputs of very different scales: Wanda's mask is
// the optimal one for a diagonal H and must beat magnitude's by far.
// Correlated inputs (what real layers see): SparseGPT, which also updates
// the kept weights, must beat both.
TEST(SparseGpt, WandaWinsOnIndependentInputsSparseGptOnCorrelatedOnes) {
  std::mt19937 rng(7);
  std::normal_distribution<double> n01(0, 1);
  const int d = 64, rows = 32, samples = 2000;
  auto none = [](int64_t) { return false; };
  NmPattern p{2, 4};
  Eigen::MatrixXd w(rows, d);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < d; ++j) w(i, j) = n01(rng);
  for (bool correlated : {false, true}) {
    Eigen::MatrixXd x(samples, d), mix = Eigen::MatrixXd::Identity(d, d);
    for (int j = 0; j < d; ++j) {
      double scale = correlated ? 1.0 : std::exp(2.0 * n01(rng));
      for (int i = 0; i < samples; ++i) x(i, j) = scale * n01(rng);
    }
    if (correlated)
      for (int i = 0; i < d; ++i)
        for (int j = 0; j < d; ++j) mix(i, j) += 0.5 * n01(rng);
    x = x * mix;
    Eigen::MatrixXd h = x.transpose() * x;
    Eigen::MatrixXd mag = SelectMask(w.cwiseAbs(), p, none).select(w, 0.0);
    Eigen::VectorXd norms = h.diagonal().cwiseSqrt();
    Eigen::MatrixXd wanda = SelectMask(w.cwiseAbs() * norms.asDiagonal(), p, none).select(w, 0.0);
    Eigen::MatrixXd sgpt = w;
    auto mask = SparseGptPrune(&sgpt, h, p, none, {});
    ASSERT_TRUE(mask.ok()) << mask.status();
    EXPECT_TRUE(SatisfiesPattern(mag, p) && SatisfiesPattern(wanda, p) && SatisfiesPattern(sgpt, p));
    double e_mag = RelativeOutputError(w, mag, h), e_wanda = RelativeOutputError(w, wanda, h),
           e_sgpt = RelativeOutputError(w, sgpt, h);
    std::printf("%s inputs, relative output error: magnitude %.4f, wanda %.4f, sparsegpt %.4f\n",
                correlated ? "correlated" : "independent", e_mag, e_wanda, e_sgpt);
    if (!correlated) {
      EXPECT_LT(e_wanda, 0.1 * e_mag);
    } else {
      EXPECT_LT(e_sgpt, 0.7 * std::min(e_mag, e_wanda));
    }
  }
}

struct SparseRun {
  std::string output, record;
  std::string notes;
};

absl::StatusOr<SparseRun> RunPipeline(const std::string& name, const std::string& pipeline, const std::string& tag) {
  RunSettings settings;
  const std::string record = Tmp(tag + ".sparsity_record.json");
  settings.families.Set(SparsityRunSettings{record});
  auto run = RunPipelineOn(name, pipeline, tag, std::move(settings));
  if (!run.ok()) return run.status();
  return SparseRun{run->output, record, run->summary};
}

// Every weight the record calls sparsified satisfies 2:4 along its reduction
// axis in the saved file (read with protobuf), directly or through the
// int8 initializer of its DequantizeLinear, and its mask is the record's.
void CheckSavedFile(const SparseRun& run) {
  std::ifstream f(run.output, std::ios::binary);
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromIstream(&f)) << run.output;
  std::map<std::string, const onnx::TensorProto*> inits;
  for (const auto& t : proto.graph().initializer()) inits[t.name()] = &t;
  std::map<std::string, std::string> dq_source;  // DequantizeLinear output -> its int8 input
  for (const auto& n : proto.graph().node())
    if (n.op_type() == "DequantizeLinear") dq_source[n.output(0)] = n.input(0);
  std::ifstream rf(run.record);
  ASSERT_TRUE(rf.good()) << run.record;
  nlohmann::json record = nlohmann::json::parse(rf);
  ASSERT_GT(record["layers"].size(), 0u);
  for (const auto& l : record["layers"]) {
    std::string weight = l["weight"];
    // The weight as the saved file reads it: by name, or renamed by quantize (the node's input 1).
    std::string read_as;
    for (const auto& n : proto.graph().node())
      if (n.name() == l["node"].get<std::string>()) read_as = n.input(1);
    ASSERT_FALSE(read_as.empty()) << l["node"];
    if (dq_source.count(read_as)) read_as = dq_source[read_as];
    ASSERT_TRUE(inits.count(read_as)) << read_as;
    const onnx::TensorProto& t = *inits[read_as];
    std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
    int64_t count = 1;
    for (int64_t x : dims) count *= x;
    std::vector<bool> nonzero(count);
    const std::string& raw = t.raw_data();
    ASSERT_FALSE(raw.empty()) << read_as;
    for (int64_t i = 0; i < count; ++i) {
      if (t.data_type() == onnx::TensorProto::FLOAT) nonzero[i] = reinterpret_cast<const float*>(raw.data())[i] != 0;
      else nonzero[i] = raw[i] != 0;  // int8 symmetric weights: zero point 0
    }
    // Walk groups of 4 along the reduction axis for every other index.
    int axis = l["axis"];
    int64_t stride = 1;
    for (size_t k = axis + 1; k < dims.size(); ++k) stride *= dims[k];
    int64_t len = dims[axis], outer = count / (len * stride);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < stride; ++in)
        for (int64_t c0 = 0; c0 < len; c0 += 4) {
          int nz = 0;
          for (int64_t c = c0; c < std::min<int64_t>(c0 + 4, len); ++c) nz += nonzero[(o * len + c) * stride + in];
          ASSERT_LE(nz, 2) << l["node"] << " group at " << o << "," << c0 << "," << in;
        }
    if (t.data_type() == onnx::TensorProto::FLOAT) {
      std::vector<bool> kept = UnpackKeptMask(l["kept_mask"], count);
      EXPECT_EQ(kept, nonzero) << l["node"];
    }
    EXPECT_NEAR(l["sparsity"].get<double>(), 0.5, 0.02) << l["node"];
  }
}


// The table: float, magnitude, Wanda, SparseGPT, SparseGPT then
// W8A8, on the Fashion-MNIST CNN and the residual CNN, top-1 on 10k images.
class SparsifyOnTrainedCnn : public ::testing::TestWithParam<std::string> {};

TEST_P(SparsifyOnTrainedCnn, SparseGptBeatsMagnitudeAndSurvivesW8A8InOnnxRuntime) {
  REQUIRE_ORT_AND_DATA();
  const std::string name = GetParam();
  auto test_set = FashionMnistTestSet();
  ASSERT_TRUE(test_set.ok()) << test_set.status();
  const Tensor &images = test_set->images, &labels = test_set->labels;
  double dense = OrtTop1(Gen(name + "/model.onnx"), images, labels);
  std::map<std::string, double> top1;
  for (const auto& [tag, pipeline] : std::vector<std::pair<std::string, std::string>>{
           {"magnitude", "optimize,sparsify{method=magnitude}"},
           {"wanda", "optimize,sparsify{method=wanda}"},
           {"sparsegpt", "optimize,sparsify{method=sparsegpt}"},
           {"sparsegpt_w8a8", "optimize,sparsify,quantize"}}) {
    SCOPED_TRACE(tag);
    auto run = RunPipeline(name, pipeline, name + "_" + tag);
    ASSERT_TRUE(run.ok()) << run.status();
    CheckSavedFile(*run);
    top1[tag] = OrtTop1(run->output, images, labels);
  }
  std::printf("%s top-1 (ORT, 10k): float %.4f, magnitude %.4f, wanda %.4f, sparsegpt %.4f, sparsegpt+w8a8 %.4f\n",
              name.c_str(), dense, top1["magnitude"], top1["wanda"], top1["sparsegpt"], top1["sparsegpt_w8a8"]);
  EXPECT_GT(top1["sparsegpt"], top1["magnitude"] + 0.01);  // clearly
  if (name == "fmnist") {
    EXPECT_GT(top1["sparsegpt_w8a8"], dense - 0.015);  // the bound
  } else {
    EXPECT_GT(top1["sparsegpt"], top1["magnitude"] + 0.15);  // 16 layers: magnitude collapses
    EXPECT_GT(top1["sparsegpt_w8a8"], dense - 0.05);
  }
  EXPECT_NEAR(top1["sparsegpt_w8a8"], top1["sparsegpt"], 0.005);  // W8A8 adds almost nothing
}

INSTANTIATE_TEST_SUITE_P(Models, SparsifyOnTrainedCnn, ::testing::Values("fmnist", "fmnist_resnet"));

TEST(VerifySparsity, ReportsDenseAndSparseLayers) {
  if (GeneratedTestdataDir().empty()) GTEST_SKIP() << "ONNXC_TESTDATA not set";
  auto dense = RunPipeline("fmnist", "optimize,verify-sparsity", "verify_dense");
  ASSERT_TRUE(dense.ok()) << dense.status();
  EXPECT_NE(dense->notes.find("1 of 4 layers satisfy 2:4"), std::string::npos) << dense->notes;  // the 1-channel conv
  auto sparse = RunPipeline("fmnist", "optimize,sparsify{method=magnitude},quantize,verify-sparsity", "verify_sparse");
  ASSERT_TRUE(sparse.ok()) << sparse.status();
  EXPECT_NE(sparse->notes.find("4 of 4 layers satisfy 2:4"), std::string::npos) << sparse->notes;
  EXPECT_NE(sparse->notes.find("(quantized)"), std::string::npos);
}

TEST(Sparsify, RefusesDataMethodsWithoutDataAndSaysWhy) {
  if (GeneratedTestdataDir().empty()) GTEST_SKIP() << "ONNXC_TESTDATA not set";
  auto model = LoadModel(Gen("fmnist/model.onnx"));
  ASSERT_TRUE(model.ok());
  auto pm = PassManager::Create("sparsify");
  ASSERT_TRUE(pm.ok());
  RunSettings settings;
  PassContext ctx;
  ctx.settings = &settings;
  absl::Status s = (*pm)->Run(**model, ctx);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("--calib-data"), std::string::npos) << s.message();
  EXPECT_FALSE(PassManager::Create("sparsify{pattern=4:2}").ok() &&
               (*PassManager::Create("sparsify{pattern=4:2,method=magnitude}"))->Run(**model, ctx).ok());
}

}  // namespace
}  // namespace onnxc
