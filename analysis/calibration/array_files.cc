#include "analysis/calibration/array_files.h"

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "analysis/calibration/npy_format.h"
#include "analysis/calibration/npz_archive.h"

namespace onnxc {
namespace calibration {

namespace fs = std::filesystem;
using onnx::TensorProto;

absl::StatusOr<ArraySpec> NpySpec(const std::string& path) {
  FileStream probe(path, 0, static_cast<int64_t>(fs::file_size(path)));
  auto h = ReadNpyHeader(probe, path);
  if (!h.ok()) return h.status();
  ArraySpec a{path, h->type, h->dims, nullptr};
  int64_t off = h->header_bytes, len = static_cast<int64_t>(fs::file_size(path)) - off;
  a.open = [path, off, len] { return std::make_unique<FileStream>(path, off, len); };
  int64_t need = ElementSize(a.type);
  for (int64_t d : a.dims) need *= d;
  if (need > len)
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated .npy (", DimsStr(a.dims), " needs ", need,
                                                   " bytes of data, the file has ", len, ")"));
  return a;
}

absl::StatusOr<std::vector<std::pair<std::string, ArraySpec>>> NpzSpecs(const std::string& path) {
  auto entries = ReadZipDirectory(path);
  if (!entries.ok()) return entries.status();
  std::vector<std::pair<std::string, ArraySpec>> out;
  for (const ZipEntry& e : *entries) {
    std::string name = e.name;
    if (absl::EndsWith(name, ".npy")) name.resize(name.size() - 4);
    std::string where = absl::StrCat(path, ":", name);
    std::function<std::unique_ptr<ByteStream>()> raw;
    if (e.method == 0) {
      raw = [path, e] { return std::make_unique<FileStream>(path, e.local_offset, e.comp_size); };
    } else if (e.method == 8) {
      raw = [path, e] { return std::make_unique<InflateStream>(path, e.local_offset, e.comp_size); };
    } else {
      return absl::InvalidArgumentError(absl::StrCat(where, ": zip compression method ", e.method,
                                                     " is not supported (only stored and deflate, as numpy writes)"));
    }
    auto probe = raw();
    auto h = ReadNpyHeader(*probe, where);
    if (!h.ok()) return h.status();
    int64_t hb = h->header_bytes;
    ArraySpec a{where, h->type, h->dims, nullptr};
    a.open = [raw, hb]() -> std::unique_ptr<ByteStream> {
      auto s = raw();
      std::vector<char> skip(hb);
      if (!s->Read(skip.data(), hb).ok()) return nullptr;
      return s;
    };
    int64_t need = ElementSize(a.type);
    for (int64_t d : a.dims) need *= d;
    if (need + hb > e.size)
      return absl::InvalidArgumentError(absl::StrCat(where, ": truncated entry (", DimsStr(a.dims), " needs ", need,
                                                     " bytes, the entry has ", e.size - hb, ")"));
    out.emplace_back(name, std::move(a));
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": empty .npz"));
  return out;
}

absl::StatusOr<std::vector<int64_t>> ParseShape(const std::string& s, const std::string& where) {
  std::vector<int64_t> d;
  for (absl::string_view p : absl::StrSplit(s, absl::ByAnyChar("x,"), absl::SkipWhitespace())) {
    int64_t v;
    if (!absl::SimpleAtoi(p, &v) || v <= 0)
      return absl::InvalidArgumentError(absl::StrCat(where, ": bad shape '", s, "' (write it as 1x3x224x224)"));
    d.push_back(v);
  }
  if (d.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": empty shape"));
  return d;
}

absl::StatusOr<ArraySpec> BinSpec(const std::string& path, const std::string& shape, const InputInfo& in) {
  int64_t bytes = static_cast<int64_t>(fs::file_size(path));
  if (bytes % 4 != 0)
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", bytes, " bytes is not a whole number of float32 values"));
  int64_t elems = bytes / 4;
  std::vector<int64_t> dims;
  if (!shape.empty()) {
    auto d = ParseShape(shape, path);
    if (!d.ok()) return d.status();
    dims = *d;
  } else {
    if (!in.dims || in.dims->empty())
      return absl::InvalidArgumentError(absl::StrCat(path, ": raw .bin data needs a shape (\"", path,
                                                     ":1x3x224x224\"); the model input '", in.name,
                                                     "' has no known shape"));
    dims = *in.dims;
    for (size_t i = 1; i < dims.size(); ++i)
      if (dims[i] < 0)
        return absl::InvalidArgumentError(absl::StrCat(path, ": raw .bin data needs a shape (\"", path,
                                                       ":1x3x224x224\"); model input '", in.name, "' is ",
                                                       TypeShapeStr(in)));
    dims[0] = 1;
  }
  int64_t per = 1;
  for (int64_t d : dims) per *= d;
  if (elems % per != 0)
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", elems, " float32 values is not a multiple of shape ",
                                                   DimsStr(dims), " (", per, " values)"));
  dims[0] *= elems / per;
  ArraySpec a{path, TensorProto::FLOAT, dims, nullptr};
  a.open = [path, bytes] { return std::make_unique<FileStream>(path, 0, bytes); };
  return a;
}

}  // namespace calibration
}  // namespace onnxc
