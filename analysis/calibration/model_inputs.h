// The model inputs calibration data must feed, and how files are matched
// and checked against them (by name or by order, types converted where
// numpy's float64 default would otherwise fail, shapes checked).
#ifndef ONNXC_ANALYSIS_CALIBRATION_MODEL_INPUTS_H_
#define ONNXC_ANALYSIS_CALIBRATION_MODEL_INPUTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/model.h"
#include "ir/tensor.h"

namespace onnxc {
namespace calibration {

struct InputInfo {
  std::string name;
  DataType type = onnx::TensorProto::UNDEFINED;  // UNDEFINED: unknown
  std::optional<std::vector<int64_t>> dims;      // -1 for unknown/symbolic
  bool optional = false;                         // has an initializer (IR < 4)
  // > 0 for an integer input read as Gather indices into a constant table
  // of this many rows (token ids into an embedding): random data draws
  // from [0, index_range) so every row can be hit.
  int64_t index_range = 0;
};

std::vector<InputInfo> ModelInputs(const Model& model);
// "FLOAT [?,3,224,224]"
std::string TypeShapeStr(const InputInfo& in);
// "'a', 'b'": the inputs data must be given for.
std::string InputNames(const std::vector<InputInfo>& ins);
int64_t RequiredInputs(const std::vector<InputInfo>& ins);
// Maps names found in a file (npz entries, file stems, TensorProto names; ""
// for none) to model input indices: by name when every name is a model
// input, by order when none is.
absl::StatusOr<std::vector<int>> MatchInputs(const std::vector<std::string>& names,
                                             const std::vector<InputInfo>& ins, const std::string& where);
// Converts (float64 -> float32 is the usual numpy pitfall) and checks a
// tensor against the model input it feeds.
absl::StatusOr<Tensor> CheckInput(const InputInfo& in, Tensor t, const std::string& where);
// The first `rows` rows (along axis 0) of `t`.
Tensor SliceRows(const Tensor& t, int64_t rows);
int64_t RowsOf(const Tensor& t);
std::string DimsStr(const std::vector<int64_t>& d);  // "[1,3,224,224]"

}  // namespace calibration
}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_CALIBRATION_MODEL_INPUTS_H_
