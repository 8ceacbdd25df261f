#include "ir/tensor_io.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace onnxc {

absl::StatusOr<NamedTensor> ReadTensorPb(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  onnx::TensorProto proto;
  if (!proto.ParseFromIstream(&f))
    return absl::DataLossError(absl::StrCat(path, ": not a TensorProto (truncated or corrupt)"));
  std::string name = proto.name();
  auto t = Tensor::FromProto(std::move(proto), "");
  if (!t.ok()) return absl::Status(t.status().code(), absl::StrCat(path, ": ", t.status().message()));
  return NamedTensor{name, std::move(*t)};
}

absl::Status WriteTensorPb(const std::string& path, const Tensor& t, const std::string& name) {
  onnx::TensorProto proto;
  Tensor copy = t;
  copy.set_encoding(TensorEncoding::kRaw);
  copy.ToProto(&proto, /*inline_data=*/true);
  if (!name.empty()) proto.set_name(name);
  std::ofstream f(path, std::ios::binary);
  if (!f || !proto.SerializeToOstream(&f)) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<NamedTensor>> ReadTensorPbSeries(const std::string& dir,
                                                            const std::string& prefix) {
  std::vector<NamedTensor> out;
  for (int i = 0;; ++i) {
    std::string path = absl::StrCat(dir, "/", prefix, "_", i, ".pb");
    if (!std::filesystem::exists(path)) break;
    auto t = ReadTensorPb(path);
    if (!t.ok()) return t.status();
    out.push_back(std::move(*t));
  }
  return out;
}

}  // namespace onnxc
