#include "analysis/calibration/npy_format.h"

#include <cctype>
#include <cstring>
#include <fstream>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace onnxc {
namespace calibration {
namespace {

using onnx::TensorProto;

absl::StatusOr<DataType> NpyType(const std::string& descr, const std::string& where) {
  static const std::map<std::string, DataType> kTypes = {
      {"f4", TensorProto::FLOAT},  {"f8", TensorProto::DOUBLE}, {"f2", TensorProto::FLOAT16},
      {"i8", TensorProto::INT64},  {"i4", TensorProto::INT32},  {"i2", TensorProto::INT16},
      {"i1", TensorProto::INT8},   {"u1", TensorProto::UINT8},  {"u2", TensorProto::UINT16},
      {"u4", TensorProto::UINT32}, {"u8", TensorProto::UINT64}, {"b1", TensorProto::BOOL}};
  if (descr.size() == 3 && (descr[0] == '<' || descr[0] == '|' || descr[0] == '=')) {
    auto it = kTypes.find(descr.substr(1));
    if (it != kTypes.end()) return it->second;
  }
  if (!descr.empty() && descr[0] == '>')
    return absl::InvalidArgumentError(absl::StrCat(where, ": big-endian arrays ('", descr, "') are not supported"));
  return absl::InvalidArgumentError(absl::StrCat(where, ": unsupported .npy dtype '", descr, "'"));
}

// Value of 'key' in the header dict ("'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ").
std::string DictField(const std::string& h, const std::string& key) {
  size_t k = h.find("'" + key + "'");
  if (k == std::string::npos) return "";
  size_t c = h.find(':', k);
  if (c == std::string::npos) return "";
  size_t s = c + 1;
  while (s < h.size() && std::isspace(static_cast<unsigned char>(h[s]))) ++s;
  if (s >= h.size()) return "";
  if (h[s] == '\'') {
    size_t e = h.find('\'', s + 1);
    return h.substr(s + 1, e - s - 1);
  }
  if (h[s] == '(') {
    size_t e = h.find(')', s);
    return h.substr(s + 1, e - s - 1);
  }
  size_t e = h.find_first_of(",}", s);
  return h.substr(s, e - s);
}

}  // namespace

std::string NpyDescr(DataType t) {
  switch (t) {
    case TensorProto::FLOAT: return "<f4";
    case TensorProto::DOUBLE: return "<f8";
    case TensorProto::FLOAT16: return "<f2";
    case TensorProto::INT64: return "<i8";
    case TensorProto::INT32: return "<i4";
    case TensorProto::INT16: return "<i2";
    case TensorProto::INT8: return "|i1";
    case TensorProto::UINT8: return "|u1";
    case TensorProto::BOOL: return "|b1";
    default: return "";
  }
}

absl::StatusOr<NpyHeader> ReadNpyHeader(ByteStream& in, const std::string& where) {
  char magic[8];
  absl::Status s = in.Read(magic, 8);
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(where, ": not a .npy array (too short)"));
  if (std::memcmp(magic, "\x93NUMPY", 6) != 0)
    return absl::InvalidArgumentError(absl::StrCat(where, ": not a .npy array (bad magic)"));
  int major = static_cast<unsigned char>(magic[6]);
  int64_t len = 0, prefix = 8;
  if (major == 1) {
    unsigned char b[2];
    if (!(s = in.Read(reinterpret_cast<char*>(b), 2)).ok()) return s;
    len = b[0] | (b[1] << 8);
    prefix += 2;
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    if (!(s = in.Read(reinterpret_cast<char*>(b), 4)).ok()) return s;
    len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<int64_t>(b[3]) << 24);
    prefix += 4;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(where, ": unsupported .npy version ", major));
  }
  if (len > (1 << 20)) return absl::InvalidArgumentError(absl::StrCat(where, ": .npy header too long"));
  std::string h(len, '\0');
  if (!(s = in.Read(h.data(), len)).ok()) return s;
  NpyHeader out;
  out.header_bytes = prefix + len;
  auto type = NpyType(DictField(h, "descr"), where);
  if (!type.ok()) return type.status();
  out.type = *type;
  std::string fortran = DictField(h, "fortran_order");
  std::string shape = DictField(h, "shape");
  for (absl::string_view part : absl::StrSplit(shape, ',', absl::SkipWhitespace())) {
    int64_t d;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &d) || d < 0)
      return absl::InvalidArgumentError(absl::StrCat(where, ": bad .npy shape (", shape, ")"));
    out.dims.push_back(d);
  }
  int64_t non1 = 0;
  for (int64_t d : out.dims) non1 += d > 1;
  if (absl::StrContains(fortran, "True") && non1 > 1)
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": Fortran-order arrays are not supported; save with np.ascontiguousarray(x)"));
  return out;
}

std::string NpyBytes(const Tensor& t) {
  std::vector<std::string> d;
  for (int64_t x : t.dims()) d.push_back(absl::StrCat(x));
  std::string shape = d.size() == 1 ? d[0] + "," : absl::StrJoin(d, ", ");
  std::string h = absl::StrCat("{'descr': '", NpyDescr(t.type()), "', 'fortran_order': False, 'shape': (", shape,
                               "), }");
  size_t total = 10 + h.size() + 1;
  h.append((64 - total % 64) % 64, ' ');
  h.push_back('\n');
  std::string out("\x93NUMPY\x01\x00", 8);
  out.push_back(static_cast<char>(h.size() & 0xff));
  out.push_back(static_cast<char>(h.size() >> 8));
  out += h;
  out.append(t.raw(), t.byte_size());
  return out;
}

}  // namespace calibration

absl::Status WriteNpy(const std::string& path, const Tensor& t) {
  if (calibration::NpyDescr(t.type()).empty())
    return absl::InvalidArgumentError(absl::StrCat("WriteNpy: unsupported type ", DataTypeName(t.type())));
  std::ofstream f(path, std::ios::binary);
  std::string b = calibration::NpyBytes(t);
  f.write(b.data(), b.size());
  return f ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write ", path));
}

}  // namespace onnxc
