// Calibration data: a stream of input samples for post-training quantization,
// read one batch at a time from the formats users actually have (ONNX test
// layout .pb folders, .npy / .npz, AMCT-style raw float32 .bin, or synthetic
// random data). Nothing is read ahead: a 10,000-image .npy file is read in
// chunks of `max_batch` rows, so memory does not grow with the data set.
//
// Units: a *sample* is one example (one row along the batch axis, axis 0). A
// CalibrationSample is one executor run: a batch of `rows` samples as the
// files give them (a 32-image input_0.pb is one CalibrationSample of 32
// samples). size(), max_samples and Describe() count samples.
#ifndef ONNXC_ANALYSIS_CALIBRATION_CALIBRATION_DATA_H_
#define ONNXC_ANALYSIS_CALIBRATION_CALIBRATION_DATA_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "analysis/calibration/calibration_settings.h"
#include "analysis/progress.h"
#include "ir/model.h"
#include "ir/tensor.h"

namespace onnxc {

// One calibration sample: tensors by graph input name (batch dims kept as given).
struct CalibrationSample {
  std::vector<std::pair<std::string, Tensor>> inputs;
  int64_t rows = 1;     // samples in this batch (dims[0] of the inputs; 1 for rank-0 inputs)
  std::string origin;   // file(s) it came from, for messages
};

struct CalibrationOptions {
  int64_t max_samples = -1;  // stop after this many samples (the last batch is cut); -1: all
  // Arrays with more rows than this (a 10,000-row .npy) are yielded in chunks
  // of this many rows. Files with fewer rows keep their batch as given. A
  // model input with a fixed batch dimension always gets exactly that many.
  int64_t max_batch = 32;
  // Shape of raw .bin files, "1x3x224x224" (or per file: "x.bin:1x3x224x224").
  // Empty: the model input's shape with the batch dimension taken from the
  // file size.
  std::string shape;
  int64_t random_samples = 16;  // for "" / "random" when max_samples is -1
  uint64_t seed = 1234;
  // Warn loudly that random data is used (off for numeric checks, where
  // random inputs are a fine probe).
  bool warn_random = true;
  // Where warnings go (random data, rows dropped for a fixed batch).
  Reporter reporter;
};

// A source that yields samples one at a time (never all in memory).
class CalibrationData {
 public:
  virtual ~CalibrationData() = default;
  // `spec`: a folder of ONNX test layout (test_data_set_*/input_K.pb, or input_K.pb directly),
  // a folder or file of .npy / .npz, raw float32 .bin files with a shape given as "path.bin:1x3x224x224"
  // or via `shape` (AMCT users prepare those), or "" / "random" for synthetic data (with a LOUD warning to options.reporter).
  // Inputs are matched to the model's graph inputs by name when the file carries one, else by order.
  static absl::StatusOr<std::unique_ptr<CalibrationData>> Open(const Model& model, const std::string& spec,
                                                               int64_t max_samples = -1);
  static absl::StatusOr<std::unique_ptr<CalibrationData>> Open(const Model& model, const std::string& spec,
                                                               const CalibrationOptions& options);
  virtual absl::StatusOr<std::optional<CalibrationSample>> Next() = 0;  // nullopt at end
  virtual int64_t size() const = 0;  // number of samples, -1 if unknown
  virtual void Rewind() = 0;
  virtual std::string Describe() const = 0;  // "256 samples from folder X (.pb)"
};

// The data `settings` name (data, samples, batch, .bin shape), warnings to
// `reporter`: how every analysis that streams calibration samples opens them.
absl::StatusOr<std::unique_ptr<CalibrationData>> OpenCalibrationData(const Model& model,
                                                                     const CalibrationSettings& settings,
                                                                     const Reporter& reporter);

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_CALIBRATION_CALIBRATION_DATA_H_
