// GPTQ and AWQ for weight-only 4-bit: on correlated inputs GPTQ must change
// a layer's output less than round-to-nearest; AWQ must not change it more;
// on the BERT-style encoder's MatMuls, in ONNX Runtime on held-out
// sequences, GPTQ must be at least 3 dB better than RTN and AWQ 1.5 dB.
#include <random>

#include "gtest/gtest.h"
#include "passes/quantization/block_quantizer.h"
#include "passes/quantization/quantize_testutil.h"

namespace onnxc {
namespace {

Eigen::MatrixXd Dequantized(const BlockCodes& c, int64_t block) {
  Eigen::MatrixXd w(c.rows, c.cols);
  for (int64_t n = 0; n < c.rows; ++n)
    for (int64_t k = 0; k < c.cols; ++k) w(n, k) = c.Value(n, k, block);
  return w;
}

TEST(Gptq, ChangesTheLayerOutputLessThanRoundToNearest) {
  std::mt19937 rng(11);
  std::normal_distribution<double> n01;
  const int rows = 48, cols = 256, samples = 4000;
  Eigen::MatrixXd w(rows, cols), x(samples, cols), mix = Eigen::MatrixXd::Identity(cols, cols);
  for (int i = 0; i < w.size(); ++i) w.data()[i] = n01(rng);
  for (int i = 0; i < x.size(); ++i) x.data()[i] = n01(rng);
  for (int i = 0; i < cols; ++i)
    for (int j = 0; j < cols; ++j) mix(i, j) += 0.3 * n01(rng);
  x = x * mix;  // correlated inputs, as real layers see
  Eigen::MatrixXd h = x.transpose() * x;
  BlockFormat f{4, 128, true};
  BlockCodes rtn = QuantizeBlocksRtn(w, f);
  auto gptq = QuantizeBlocksGptq(w, h, f);
  ASSERT_TRUE(gptq.ok()) << gptq.status();
  auto output_error = [&](const BlockCodes& c) {
    Eigen::MatrixXd d = w - Dequantized(c, f.block);
    return (d * h).cwiseProduct(d).sum() / (w * h).cwiseProduct(w).sum();
  };
  double e_rtn = output_error(rtn), e_gptq = output_error(*gptq);
  std::printf("relative output error: rtn %.5f, gptq %.5f\n", e_rtn, e_gptq);
  EXPECT_LT(e_gptq, 0.7 * e_rtn);
  // Codes stay in range and scales follow RTN's rule per block.
  for (uint8_t code : gptq->codes) EXPECT_LE(code, 15);
}

// Inputs with a few loud channels (what AWQ is for): the scales it picks
// must cut the layer's output error well below RTN's.
TEST(Awq, ProtectsLoudInputChannels) {
  std::mt19937 rng(5);
  std::normal_distribution<double> n01;
  const int rows = 64, cols = 256, samples = 4000;
  Eigen::MatrixXd w(rows, cols), x(samples, cols);
  for (int i = 0; i < w.size(); ++i) w.data()[i] = n01(rng);
  for (int i = 0; i < x.size(); ++i) x.data()[i] = n01(rng);
  for (int j = 0; j < cols; j += 32) x.col(j) *= 30.0;  // outlier channels
  const Eigen::MatrixXd h = x.transpose() * x;
  AwqCodes awq = QuantizeBlocksAwq(w, h, samples, BlockFormat{4, 128, true});
  std::printf("AWQ: alpha %.2f, relative output error %.5f (rtn %.5f)\n", awq.alpha, awq.error_awq, awq.error_rtn);
  EXPECT_GT(awq.alpha, 0.0);
  EXPECT_LT(awq.error_awq, 0.8 * awq.error_rtn);
  // The reported error is the real one: recompute it from the codes.
  Eigen::MatrixXd d(rows, cols);
  for (int n = 0; n < rows; ++n)
    for (int k = 0; k < cols; ++k) d(n, k) = w(n, k) - awq.codes.Value(n, k, 128) / awq.input_scale[k];
  EXPECT_NEAR((d * h).cwiseProduct(d).sum() / (w * h).cwiseProduct(w).sum(), awq.error_awq, 1e-9);
}

TEST(Gptq, EncoderW4A16IsBetterThanRoundToNearestInOnnxRuntime) {
  REQUIRE_ORT_AND_DATA();
  std::map<std::string, double> sqnr;
  for (const char* method : {"rtn", "gptq", "awq"}) {
    auto q = Quantize(Gen("transformer/model.onnx"), Gen("transformer/calib"),
                      std::string("{scheme=w4a16,weight-method=") + method + "}", std::string("encoder_w4_") + method);
    ASSERT_TRUE(q.ok()) << q.status();
    auto d = OrtDiff("transformer", q->output, "test_data_set_1");  // held out: not in calib/
    ASSERT_TRUE(d.ok()) << d.status();
    sqnr[method] = d->sqnr_db;
    auto ops = OrtFusedOps(q->output);
    ASSERT_TRUE(ops.ok()) << ops.status();
    EXPECT_GE((*ops)["MatMulNBits"], 9) << method;
  }
  std::printf("encoder W4A16 logits SQNR in ORT: rtn %.1f dB, gptq %.1f dB, awq %.1f dB\n", sqnr["rtn"], sqnr["gptq"],
              sqnr["awq"]);
  EXPECT_GT(sqnr["gptq"], sqnr["rtn"] + 3.0);
  EXPECT_GT(sqnr["awq"], sqnr["rtn"] + 1.5);
}

}  // namespace
}  // namespace onnxc
