// Tensor: an n-dimensional array of one ONNX element type.
//
// Storage is shared between copies and copied on the first write, so cloning a
// graph (sensitivity analysis does) does not copy its weights. Tensors whose
// bytes live in an external data file are read on first access, so loading a
// model over 2 GB only reads what a pass touches.
#ifndef ONNXC_IR_TENSOR_H_
#define ONNXC_IR_TENSOR_H_

#include <cstdint>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "ir/data_type.h"

namespace onnxc {

// Where a tensor's bytes are in an external data file (ONNX "external_data").
struct ExternalLocation {
  std::string path;        // absolute path, already checked to stay in the model folder
  std::string location;    // the relative "location" as written in the model
  int64_t offset = 0;
  int64_t length = -1;     // -1: to the end of the file
  // Extra key/value entries (e.g. "checksum") kept for a lossless round trip.
  std::vector<std::pair<std::string, std::string>> extra;
};

// How the tensor was encoded in the proto it came from; export writes it the
// same way so a load/save round trip gives back an equal proto.
enum class TensorEncoding {
  kRaw,       // raw_data
  kTyped,     // float_data / int32_data / int64_data / ... fields
  kExternal,  // external data file
};

class Tensor {
 public:
  Tensor() = default;
  // A zero-filled tensor.
  Tensor(DataType type, std::vector<int64_t> dims);

  // Converts a TensorProto. Its data is moved out, not copied. `model_dir` is
  // where relative external data paths are resolved; escaping paths are
  // refused (see ResolveExternalPath; `model_file` is the model's own path).
  static absl::StatusOr<Tensor> FromProto(onnx::TensorProto&& proto, const std::string& model_dir,
                                          const std::string& model_file = "");
  static absl::StatusOr<Tensor> FromProto(const onnx::TensorProto& proto,
                                          const std::string& model_dir = "");

  // Writes metadata and data (inline, in the original encoding) into `proto`.
  // External tensors keep their external_data entries unless `inline_data`.
  void ToProto(onnx::TensorProto* proto, bool inline_data = false) const;
  // Writes everything but the data payload (used by streaming save).
  void MetadataToProto(onnx::TensorProto* proto) const;

  DataType type() const { return type_; }
  const std::vector<int64_t>& dims() const { return dims_; }
  int64_t rank() const { return static_cast<int64_t>(dims_.size()); }
  int64_t num_elements() const;
  size_t byte_size() const { return num_elements() * ElementSize(type_); }

  TensorEncoding encoding() const { return encoding_; }
  void set_encoding(TensorEncoding e) { encoding_ = e; }
  const ExternalLocation* external() const;
  const std::string& doc_string() const { return doc_string_; }
  void set_doc_string(std::string s) { doc_string_ = std::move(s); }

  // Reads external data if it has not been read. Every accessor below calls
  // it; call it first where an I/O error must be reported as a Status.
  absl::Status Load() const;
  bool loaded() const;
  // Drops bytes read from an external file (they will be read again).
  void Unload() const;

  // Raw little-endian bytes (not for STRING tensors).
  const char* raw() const;
  char* mutable_raw();
  template <typename T> const T* data() const { return reinterpret_cast<const T*>(raw()); }
  template <typename T> T* mutable_data() { return reinterpret_cast<T*>(mutable_raw()); }
  template <typename T> absl::Span<const T> span() const {
    return absl::Span<const T>(data<T>(), num_elements());
  }

  // STRING tensors.
  const std::vector<std::string>& strings() const;
  std::vector<std::string>* mutable_strings();

  // Element i as double, for any numeric type (slow path for small tensors).
  double ScalarAt(int64_t i) const;
  // A float32 copy of any numeric tensor (float16 and bfloat16 converted).
  std::vector<float> ToFloatVector() const;

  // True if both hold the same type, shape and bytes.
  bool SameContents(const Tensor& other) const;

 private:
  struct Storage {
    std::mutex mu;
    // Checked on every data access: atomic so the common (loaded) case takes
    // no lock.
    std::atomic<bool> loaded{true};
    std::string bytes;
    std::vector<std::string> strings;
    std::unique_ptr<ExternalLocation> external;
  };
  void MakeUnique();

  DataType type_ = onnx::TensorProto::UNDEFINED;
  std::vector<int64_t> dims_;
  TensorEncoding encoding_ = TensorEncoding::kRaw;
  std::string doc_string_;
  std::shared_ptr<Storage> storage_ = std::make_shared<Storage>();
};

// Checks that an external data `location` stays inside `model_dir` (no
// absolute path, no "..", no symlink leading out) and returns the resolved
// path. This refuses the class of ONNX CVE-2022-25882. A file whose real path
// is in the folder where `model_file` really lives is accepted too (model
// stores that link every file, like Bazel runfiles or hub snapshots).
absl::StatusOr<std::string> ResolveExternalPath(const std::string& model_dir, const std::string& location,
                                                const std::string& model_file = "");

}  // namespace onnxc

#endif  // ONNXC_IR_TENSOR_H_
