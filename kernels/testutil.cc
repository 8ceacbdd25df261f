#include "kernels/testutil.h"

#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kernels/ktensor.h"

namespace onnxc {
namespace kernels {

namespace {
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
}  // namespace

absl::StatusOr<Tensor> ReadTensorPb(const std::string& path, std::string* name) {
  auto bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  onnx::TensorProto proto;
  if (!proto.ParseFromString(*bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a TensorProto"));
  }
  if (!proto.has_data_type() || proto.data_type() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a TensorProto (no data_type; "
                                                   "sequence/map/optional inputs are not supported)"));
  }
  if (name) *name = proto.name();
  auto t = Tensor::FromProto(std::move(proto), "");
  if (!t.ok()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", t.status().message()));
  return t;
}

absl::StatusOr<Tensor> ReadNpy(const std::string& path) {
  auto bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  const std::string& b = *bytes;
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a .npy file"));
  }
  int major = static_cast<unsigned char>(b[6]);
  size_t hlen, hstart;
  if (major == 1) {
    hlen = static_cast<unsigned char>(b[8]) | (static_cast<unsigned char>(b[9]) << 8);
    hstart = 10;
  } else {
    if (b.size() < 12) return absl::InvalidArgumentError(absl::StrCat(path, ": truncated header"));
    hlen = 0;
    for (int i = 0; i < 4; ++i) hlen |= static_cast<size_t>(static_cast<unsigned char>(b[8 + i])) << (8 * i);
    hstart = 12;
  }
  if (hstart + hlen > b.size()) return absl::InvalidArgumentError(absl::StrCat(path, ": truncated header"));
  std::string header = b.substr(hstart, hlen);
  auto field = [&](const std::string& key) -> std::string {
    size_t p = header.find("'" + key + "'");
    if (p == std::string::npos) return "";
    p = header.find(':', p);
    return header.substr(p + 1);
  };
  std::string descr = field("descr");
  size_t q1 = descr.find('\''), q2 = descr.find('\'', q1 + 1);
  if (q1 == std::string::npos || q2 == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": bad descr"));
  }
  descr = descr.substr(q1 + 1, q2 - q1 - 1);
  if (absl::StrContains(field("fortran_order").substr(0, 8), "True")) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": Fortran-order arrays are not supported"));
  }
  std::string shape_s = field("shape");
  shape_s = shape_s.substr(shape_s.find('(') + 1);
  shape_s = shape_s.substr(0, shape_s.find(')'));
  std::vector<int64_t> dims;
  for (absl::string_view part : absl::StrSplit(shape_s, ',', absl::SkipWhitespace())) {
    int64_t d;
    if (!absl::SimpleAtoi(part, &d)) return absl::InvalidArgumentError(absl::StrCat(path, ": bad shape"));
    dims.push_back(d);
  }
  if (descr.size() < 3 || descr[0] == '>') {
    return absl::InvalidArgumentError(absl::StrCat(path, ": big-endian or unknown dtype '", descr, "'"));
  }
  std::string code = descr.substr(1);
  DataType type;
  if (code == "f4") type = onnx::TensorProto::FLOAT;
  else if (code == "f8") type = onnx::TensorProto::DOUBLE;
  else if (code == "f2") type = onnx::TensorProto::FLOAT16;
  else if (code == "i1") type = onnx::TensorProto::INT8;
  else if (code == "u1") type = onnx::TensorProto::UINT8;
  else if (code == "i4") type = onnx::TensorProto::INT32;
  else if (code == "i8") type = onnx::TensorProto::INT64;
  else if (code == "b1") type = onnx::TensorProto::BOOL;
  else return absl::InvalidArgumentError(absl::StrCat(path, ": unsupported dtype '", descr, "'"));
  Tensor t(type, dims);
  size_t data_start = hstart + hlen;
  if (b.size() - data_start < t.byte_size()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": data is shorter than the shape says"));
  }
  if (t.byte_size()) std::memcpy(t.mutable_raw(), b.data() + data_start, t.byte_size());
  return t;
}

std::vector<std::string> NumberedFiles(const std::string& dir, const std::string& prefix,
                                       const std::string& ext) {
  std::vector<std::pair<int, std::string>> found;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return {};
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (!absl::StartsWith(n, prefix) || !absl::EndsWith(n, ext)) continue;
    std::string mid = n.substr(prefix.size(), n.size() - prefix.size() - ext.size());
    int k;
    if (!absl::SimpleAtoi(mid, &k)) continue;
    found.emplace_back(k, dir + "/" + n);
  }
  closedir(d);
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& [k, p] : found) out.push_back(p);
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, Tensor>>> LoadInputs(const Graph& g,
                                                                       const std::string& dir) {
  std::vector<std::string> free_inputs;
  for (const Value* v : g.inputs())
    if (!v->has_initializer()) free_inputs.push_back(v->name());
  std::vector<std::pair<std::string, Tensor>> out;
  std::vector<std::string> files = NumberedFiles(dir, "input_", ".pb");
  bool npy = false;
  if (files.empty()) {
    files = NumberedFiles(dir, "input_", ".npy");
    npy = true;
  }
  if (files.empty()) {
    // Any *.npy, sorted by name.
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return absl::NotFoundError(absl::StrCat("cannot open input folder ", dir));
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (absl::EndsWith(n, ".npy")) files.push_back(dir + "/" + n);
    }
    closedir(d);
    std::sort(files.begin(), files.end());
    npy = true;
  }
  if (files.empty() && !free_inputs.empty()) {
    return absl::NotFoundError(absl::StrCat("no input_*.pb or *.npy files in ", dir));
  }
  for (size_t i = 0; i < files.size(); ++i) {
    std::string name;
    absl::StatusOr<Tensor> t = npy ? ReadNpy(files[i]) : ReadTensorPb(files[i], &name);
    if (!t.ok()) return t.status();
    if (npy) {
      // x.npy names the input x when the graph has one.
      std::string base = files[i].substr(files[i].rfind('/') + 1);
      base = base.substr(0, base.size() - 4);
      name = base;
    }
    bool named = std::find(free_inputs.begin(), free_inputs.end(), name) != free_inputs.end() ||
                 (g.FindLocalValue(name) && g.FindLocalValue(name)->is_graph_input());
    if (!named) {
      if (i >= free_inputs.size()) {
        return absl::InvalidArgumentError(absl::StrCat(files[i], ": more input files than graph inputs (",
                                                       free_inputs.size(), ")"));
      }
      name = free_inputs[i];
    }
    out.emplace_back(name, *std::move(t));
  }
  return out;
}

std::string CompareTensors(const Tensor& want, const Tensor& got, double rtol, double atol) {
  if (want.dims() != got.dims()) {
    return absl::StrCat("shape ", ShapeString(got.dims()), " != expected ", ShapeString(want.dims()));
  }
  auto is_float = [](DataType t) {
    return t == onnx::TensorProto::FLOAT || t == onnx::TensorProto::DOUBLE ||
           t == onnx::TensorProto::FLOAT16 || t == onnx::TensorProto::BFLOAT16;
  };
  if (is_float(want.type()) != is_float(got.type())) {
    return absl::StrCat("type ", DataTypeName(got.type()), " != expected ", DataTypeName(want.type()));
  }
  if (!is_float(want.type()) && want.type() != got.type()) {
    return absl::StrCat("type ", DataTypeName(got.type()), " != expected ", DataTypeName(want.type()));
  }
  int64_t n = want.num_elements();
  int64_t bad = 0, first = -1;
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    double w = want.type() == onnx::TensorProto::FLOAT16
                   ? HalfToFloat(want.data<uint16_t>()[i])
                   : want.ScalarAt(i);
    double g = got.ScalarAt(i);
    bool ok;
    if (is_float(want.type())) {
      if (std::isnan(w) || std::isnan(g)) ok = std::isnan(w) && std::isnan(g);
      else if (std::isinf(w) || std::isinf(g)) ok = w == g;
      else ok = std::fabs(g - w) <= atol + rtol * std::fabs(w);
    } else {
      ok = w == g;
    }
    if (!ok) {
      if (first < 0) first = i;
      ++bad;
      if (!std::isnan(w) && !std::isnan(g)) worst = std::max(worst, std::fabs(g - w));
    }
  }
  if (bad == 0) return "";
  double w0 = want.type() == onnx::TensorProto::FLOAT16 ? HalfToFloat(want.data<uint16_t>()[first])
                                                        : want.ScalarAt(first);
  return absl::StrCat(bad, " of ", n, " elements differ; first at ", first, ": got ",
                      got.ScalarAt(first), " expected ", w0, "; max abs diff ", worst);
}

}  // namespace kernels
}  // namespace onnxc
