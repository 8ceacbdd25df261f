#include "ir/value.h"

#include <algorithm>

namespace onnxc {

bool Value::IsGraphOutput() const {
  return std::find(output_of_.begin(), output_of_.end(), graph_) != output_of_.end();
}

DataType Value::elem_type() const {
  if (type_ && type_->has_tensor_type())
    return static_cast<DataType>(type_->tensor_type().elem_type());
  if (initializer_) return initializer_->type();
  return onnx::TensorProto::UNDEFINED;
}

std::optional<std::vector<int64_t>> Value::shape() const {
  if (initializer_) return initializer_->dims();
  if (!type_ || !type_->has_tensor_type() || !type_->tensor_type().has_shape()) return std::nullopt;
  std::vector<int64_t> dims;
  for (const auto& d : type_->tensor_type().shape().dim())
    dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  return dims;
}

}  // namespace onnxc
