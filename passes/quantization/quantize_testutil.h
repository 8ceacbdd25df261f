// Helpers shared by the quantization tests: quantize a generated model the
// way compress does, read test sets and records, and compare with ONNX
// Runtime.
#ifndef ONNXC_PASSES_QUANTIZATION_QUANTIZE_TESTUTIL_H_
#define ONNXC_PASSES_QUANTIZATION_QUANTIZE_TESTUTIL_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "analysis/tensor_metrics.h"
#include "gtest/gtest.h"
#include "ir/tensor.h"
#include "passes/pass/pass.h"
#include "passes/quantization/quantization_config.pb.h"
#include "nlohmann/json.hpp"
#include "testdata/ort_runner.h"

namespace onnxc {

// Skips when ONNX Runtime is not configured; fails when it is but the data is missing.
#define REQUIRE_ORT_AND_DATA()                                                                   \
  do {                                                                                           \
    if (OrtDir().empty()) GTEST_SKIP() << "ONNXC_ORT_DIR not set: run through tools/test.sh";    \
    ASSERT_FALSE(GeneratedTestdataDir().empty()) << "ONNXC_TESTDATA not set";                   \
  } while (0)

// A generated test model's file (testdata/generated/REL).
std::string Gen(const std::string& rel);
std::string Tmp(const std::string& name);

struct QuantizeRun {
  std::string output;
  std::string record;
  std::string fake_quant;
};

// optimize + quantize{options} on `input` with `calib`, checked by our
// verifier and ONNX's checker, saved to a temp file named after `tag`.
// `require_checker`: ONNX's checker must run (false for opsets it does not know).
absl::StatusOr<QuantizeRun> Quantize(const std::string& input, const std::string& calib, const std::string& options,
                                     const std::string& tag, bool fake_quant = false, bool require_checker = true);

// Runs `pipeline` on generated model NAME with NAME/calib as calibration
// data (and `settings`' families), requires ONNX's checker to pass, saves it
// to a temp file named after `tag`; returns the path and, in `summary`, the
// pass manager's summary (its notes).
struct PipelineRun {
  std::string output;
  std::string summary;
  nlohmann::json report;  // the pass manager's report (per pass: notes and details)
};
absl::StatusOr<PipelineRun> RunPipelineOn(const std::string& name, const std::string& pipeline, const std::string& tag,
                                          RunSettings settings = {});
// The same for any model file and calibration data, saved to `output`.
absl::StatusOr<PipelineRun> RunPipelineOnFile(const std::string& input, const std::string& calib,
                                              const std::string& pipeline, const std::string& output,
                                              RunSettings settings = {});

// Minimal .npy reader: little-endian float32 or int64, C order, the first `max_rows` rows.
absl::StatusOr<Tensor> ReadNpy(const std::string& path, int64_t max_rows);
double Top1(const Tensor& logits, const Tensor& labels);
// The first `n` images and labels of the Fashion-MNIST test set (fmnist/test_*.npy).
struct LabeledImages {
  Tensor images, labels;
};
absl::StatusOr<LabeledImages> FashionMnistTestSet(int64_t n = 10000);
// Top-1 of `model` in ONNX Runtime on `images` (its input named "input"),
// with its logits in `logits` if given; a failed run fails the test and gives 0.
double OrtTop1(const std::string& model, const Tensor& images, const Tensor& labels, Tensor* logits = nullptr);
absl::StatusOr<QuantizationRecord> ReadRecord(const std::string& path);

// Op counts of ONNX Runtime's optimised graph (testdata/ort/fused_ops.js),
// which is also saved to `save` if given.
absl::StatusOr<std::map<std::string, int>> OrtFusedOps(const std::string& model, const std::string& save = "");

// Float model `name` (testdata/generated/NAME/model.onnx) against `quantized`
// in ONNX Runtime, on the inputs of NAME/SET.
absl::StatusOr<TensorDiff> OrtDiff(const std::string& name, const std::string& quantized, const std::string& set,
                                   const OrtOptions& options = {});

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_QUANTIZE_TESTUTIL_H_
