#include "analysis/calibration_data.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/match.h"
#include "absl/strings/ascii.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl.h"
#include "google/protobuf/wire_format_lite.h"
#include "ir/graph.h"
#include "ir/tensor_io.h"
#include "ir/value.h"

namespace onnxc {
namespace {

namespace fs = std::filesystem;
using onnx::TensorProto;

std::string DimsStr(const std::vector<int64_t>& d) {
  return absl::StrCat("[", absl::StrJoin(d, ","), "]");
}

// ---------------------------------------------------------------- model inputs

struct InputInfo {
  std::string name;
  DataType type = TensorProto::UNDEFINED;  // UNDEFINED: unknown
  std::optional<std::vector<int64_t>> dims;  // -1 for unknown/symbolic
  bool optional = false;                     // has an initializer (IR < 4)
  // > 0 for an integer input read as Gather indices into a constant table
  // of this many rows (token ids into an embedding): random data draws
  // from [0, index_range) so every row can be hit.
  int64_t index_range = 0;
};

// The rows of the smallest constant table `v` indexes through Gather, or 0.
int64_t GatherTableRows(const Value* v) {
  int64_t rows = 0;
  for (const Use& u : v->uses()) {
    if (!u.node->IsOp("Gather") || u.index != 1 || u.node->input(0) == nullptr) continue;
    const Tensor* table = u.node->input(0)->constant();
    if (table == nullptr || table->rank() == 0) continue;
    int64_t axis = u.node->GetInt("axis", 0);
    if (axis < 0) axis += table->rank();
    if (axis < 0 || axis >= table->rank() || table->dims()[axis] <= 0) continue;
    rows = rows == 0 ? table->dims()[axis] : std::min(rows, table->dims()[axis]);
  }
  return rows;
}

std::vector<InputInfo> ModelInputs(const Model& model) {
  std::vector<InputInfo> out;
  for (const Value* v : model.graph().inputs()) {
    InputInfo in;
    in.name = v->name();
    in.type = v->elem_type();
    in.dims = v->shape();
    in.optional = v->has_initializer();
    if (in.type == TensorProto::INT64 || in.type == TensorProto::INT32) in.index_range = GatherTableRows(v);
    out.push_back(std::move(in));
  }
  return out;
}

std::string TypeShapeStr(const InputInfo& in) {
  std::string s = in.type == TensorProto::UNDEFINED ? "?" : DataTypeName(in.type);
  if (!in.dims) return s + " [?]";
  std::vector<std::string> d;
  for (int64_t x : *in.dims) d.push_back(x < 0 ? "?" : absl::StrCat(x));
  return absl::StrCat(s, " [", absl::StrJoin(d, ","), "]");
}

std::string InputNames(const std::vector<InputInfo>& ins) {
  std::vector<std::string> n;
  for (const auto& i : ins)
    if (!i.optional) n.push_back("'" + i.name + "'");
  return absl::StrJoin(n, ", ");
}

int64_t RequiredInputs(const std::vector<InputInfo>& ins) {
  int64_t n = 0;
  for (const auto& i : ins) n += !i.optional;
  return n;
}

// Maps names found in a file (npz entries, file stems, TensorProto names; ""
// for none) to model input indices: by name when every name is a model
// input, by order when none is.
absl::StatusOr<std::vector<int>> MatchInputs(const std::vector<std::string>& names,
                                             const std::vector<InputInfo>& ins, const std::string& where) {
  std::map<std::string, int> index;
  for (size_t i = 0; i < ins.size(); ++i) index[ins[i].name] = static_cast<int>(i);
  int named = 0;
  for (const auto& n : names) named += index.count(n) > 0;
  std::vector<int> out;
  if (named == static_cast<int>(names.size())) {
    std::set<int> seen;
    for (const auto& n : names) {
      if (!seen.insert(index[n]).second)
        return absl::InvalidArgumentError(absl::StrCat(where, ": input '", n, "' is given twice"));
      out.push_back(index[n]);
    }
  } else if (named == 0 || names.size() == 1) {
    std::vector<std::string> shown;
    for (const auto& n : names) shown.push_back(n.empty() ? "(unnamed)" : "'" + n + "'");
    // By order: the k-th entry feeds the k-th graph input.
    if (names.size() > ins.size())
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", names.size(), " tensors (", absl::StrJoin(shown, ", "),
                                                     ") but the model has ", ins.size(), " inputs: ", InputNames(ins)));
    for (size_t i = 0; i < names.size(); ++i) out.push_back(static_cast<int>(i));
  } else {
    std::vector<std::string> unknown;
    for (const auto& n : names)
      if (!index.count(n)) unknown.push_back("'" + n + "'");
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", absl::StrJoin(unknown, ", "),
                                                   " not an input of the model (its inputs: ", InputNames(ins), ")"));
  }
  std::set<int> given(out.begin(), out.end());
  for (size_t i = 0; i < ins.size(); ++i)
    if (!ins[i].optional && !given.count(static_cast<int>(i)))
      return absl::InvalidArgumentError(absl::StrCat(where, ": no data for model input '", ins[i].name, "' (",
                                                     TypeShapeStr(ins[i]), ")"));
  return out;
}

// Converts (float64 -> float32 is the usual numpy pitfall) and checks a tensor
// against the model input it feeds.
absl::StatusOr<Tensor> CheckInput(const InputInfo& in, Tensor t, const std::string& where) {
  auto describe = [&](const Tensor& x) { return absl::StrCat(DataTypeName(x.type()), " ", DimsStr(x.dims())); };
  if (in.type != TensorProto::UNDEFINED && t.type() != in.type) {
    bool numeric_to_float = (in.type == TensorProto::FLOAT || in.type == TensorProto::DOUBLE ||
                             in.type == TensorProto::FLOAT16) &&
                            (t.type() == TensorProto::DOUBLE || t.type() == TensorProto::FLOAT ||
                             t.type() == TensorProto::FLOAT16);
    if (!numeric_to_float)
      return absl::InvalidArgumentError(absl::StrCat(where, ": model input '", in.name, "' is ", TypeShapeStr(in),
                                                     ", the file holds ", describe(t)));
    Tensor c(in.type, t.dims());
    std::vector<float> f = t.ToFloatVector();
    for (size_t i = 0; i < f.size(); ++i) {
      if (in.type == TensorProto::FLOAT) c.mutable_data<float>()[i] = f[i];
      else if (in.type == TensorProto::DOUBLE) c.mutable_data<double>()[i] = f[i];
      else c.mutable_data<uint16_t>()[i] = FloatToHalf(f[i]);
    }
    t = std::move(c);
  }
  if (in.dims) {
    const auto& md = *in.dims;
    bool ok = md.size() == t.dims().size();
    for (size_t i = 0; ok && i < md.size(); ++i) ok = md[i] < 0 || md[i] == t.dims()[i];
    if (!ok)
      return absl::InvalidArgumentError(absl::StrCat(where, ": model input '", in.name, "' is ", TypeShapeStr(in),
                                                     ", the file holds ", describe(t)));
  }
  return t;
}

// The first `rows` rows (along axis 0) of `t`.
Tensor SliceRows(const Tensor& t, int64_t rows) {
  std::vector<int64_t> d = t.dims();
  if (d.empty() || d[0] <= rows) return t;
  int64_t row_bytes = d[0] == 0 ? 0 : static_cast<int64_t>(t.byte_size()) / d[0];
  d[0] = rows;
  Tensor out(t.type(), d);
  std::memcpy(out.mutable_raw(), t.raw(), rows * row_bytes);
  return out;
}

int64_t RowsOf(const Tensor& t) { return t.dims().empty() ? 1 : t.dims()[0]; }

// ---------------------------------------------------------------- byte streams

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual absl::Status Read(char* dst, int64_t n) = 0;
  virtual absl::Status Reset() = 0;
};

// Bytes [offset, offset + length) of a file.
class FileStream : public ByteStream {
 public:
  FileStream(std::string path, int64_t offset, int64_t length)
      : path_(std::move(path)), offset_(offset), length_(length) {}
  absl::Status Read(char* dst, int64_t n) override {
    if (!in_.is_open()) {
      absl::Status s = Reset();
      if (!s.ok()) return s;
    }
    if (pos_ + n > length_)
      return absl::DataLossError(absl::StrCat(path_, ": truncated (wanted ", n, " bytes at ", offset_ + pos_,
                                              ", the data ends at ", offset_ + length_, ")"));
    in_.read(dst, n);
    if (in_.gcount() != n) return absl::DataLossError(absl::StrCat(path_, ": read error at ", offset_ + pos_));
    pos_ += n;
    return absl::OkStatus();
  }
  absl::Status Reset() override {
    if (in_.is_open()) in_.close();
    in_.open(path_, std::ios::binary);
    if (!in_) return absl::NotFoundError(absl::StrCat("cannot open ", path_));
    in_.seekg(offset_);
    pos_ = 0;
    return absl::OkStatus();
  }

 private:
  std::string path_;
  int64_t offset_, length_, pos_ = 0;
  std::ifstream in_;
};

// A raw-deflate stream (zip method 8) over bytes [offset, offset + length).
class InflateStream : public ByteStream {
 public:
  InflateStream(std::string path, int64_t offset, int64_t length)
      : path_(std::move(path)), offset_(offset), length_(length) {}
  ~InflateStream() override {
    if (init_) inflateEnd(&z_);
  }
  absl::Status Read(char* dst, int64_t n) override {
    if (!init_) {
      absl::Status s = Reset();
      if (!s.ok()) return s;
    }
    z_.next_out = reinterpret_cast<Bytef*>(dst);
    int64_t left = n;
    while (left > 0) {
      uInt chunk = static_cast<uInt>(std::min<int64_t>(left, 1 << 30));
      z_.next_out = reinterpret_cast<Bytef*>(dst + (n - left));
      z_.avail_out = chunk;
      while (z_.avail_out > 0) {
        if (z_.avail_in == 0) {
          int64_t want = std::min<int64_t>(buf_.size(), length_ - consumed_);
          if (want <= 0) return absl::DataLossError(absl::StrCat(path_, ": compressed entry ends early"));
          in_.read(buf_.data(), want);
          if (in_.gcount() != want) return absl::DataLossError(absl::StrCat(path_, ": read error"));
          consumed_ += want;
          z_.next_in = reinterpret_cast<Bytef*>(buf_.data());
          z_.avail_in = static_cast<uInt>(want);
        }
        int r = inflate(&z_, Z_NO_FLUSH);
        if (r == Z_STREAM_END && z_.avail_out > 0)
          return absl::DataLossError(absl::StrCat(path_, ": compressed entry ends early"));
        if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
          return absl::DataLossError(absl::StrCat(path_, ": inflate failed (", z_.msg ? z_.msg : "error", ")"));
        if (r == Z_STREAM_END) break;
      }
      left -= chunk;
    }
    return absl::OkStatus();
  }
  absl::Status Reset() override {
    if (init_) inflateEnd(&z_);
    std::memset(&z_, 0, sizeof(z_));
    if (inflateInit2(&z_, -MAX_WBITS) != Z_OK) return absl::InternalError("inflateInit2 failed");
    init_ = true;
    if (in_.is_open()) in_.close();
    in_.open(path_, std::ios::binary);
    if (!in_) return absl::NotFoundError(absl::StrCat("cannot open ", path_));
    in_.seekg(offset_);
    consumed_ = 0;
    buf_.resize(1 << 16);
    return absl::OkStatus();
  }

 private:
  std::string path_;
  int64_t offset_, length_, consumed_ = 0;
  std::ifstream in_;
  std::vector<char> buf_;
  z_stream z_{};
  bool init_ = false;
};

// ---------------------------------------------------------------- .npy

struct NpyHeader {
  DataType type = TensorProto::UNDEFINED;
  std::vector<int64_t> dims;
  int64_t header_bytes = 0;  // magic + header; data follows
};

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

// ---------------------------------------------------------------- .npz (zip)

struct ZipEntry {
  std::string name;
  int method = 0;
  int64_t comp_size = 0, size = 0, local_offset = 0;
};

uint32_t U32(const unsigned char* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }
uint16_t U16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint64_t U64(const unsigned char* p) { return U32(p) | (static_cast<uint64_t>(U32(p + 4)) << 32); }

absl::StatusOr<std::vector<ZipEntry>> ReadZipDirectory(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  in.seekg(0, std::ios::end);
  int64_t size = in.tellg();
  int64_t tail = std::min<int64_t>(size, 65557 + 20);
  std::vector<unsigned char> buf(tail);
  in.seekg(size - tail);
  in.read(reinterpret_cast<char*>(buf.data()), tail);
  int64_t eocd = -1;
  for (int64_t i = tail - 22; i >= 0; --i)
    if (U32(&buf[i]) == 0x06054b50) { eocd = i; break; }
  if (eocd < 0) return absl::InvalidArgumentError(absl::StrCat(path, ": not a .npz (zip) file"));
  uint64_t count = U16(&buf[eocd + 10]);
  uint64_t cd_size = U32(&buf[eocd + 12]);
  uint64_t cd_offset = U32(&buf[eocd + 16]);
  // Zip64 end of central directory record, through its locator just before.
  if ((cd_offset == 0xFFFFFFFFu || count == 0xFFFF) && eocd >= 20 && U32(&buf[eocd - 20]) == 0x07064b50) {
    uint64_t rec = U64(&buf[eocd - 20 + 8]);
    unsigned char z[56];
    in.seekg(rec);
    in.read(reinterpret_cast<char*>(z), 56);
    if (U32(z) == 0x06064b50) {
      count = U64(z + 32);
      cd_size = U64(z + 40);
      cd_offset = U64(z + 48);
    }
  }
  if (cd_offset + cd_size > static_cast<uint64_t>(size))
    return absl::InvalidArgumentError(absl::StrCat(path, ": corrupt zip directory"));
  std::vector<unsigned char> cd(cd_size);
  in.seekg(cd_offset);
  in.read(reinterpret_cast<char*>(cd.data()), cd_size);
  std::vector<ZipEntry> out;
  size_t p = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (p + 46 > cd.size() || U32(&cd[p]) != 0x02014b50)
      return absl::InvalidArgumentError(absl::StrCat(path, ": corrupt zip directory"));
    ZipEntry e;
    e.method = U16(&cd[p + 10]);
    e.comp_size = U32(&cd[p + 20]);
    e.size = U32(&cd[p + 24]);
    int name_len = U16(&cd[p + 28]), extra_len = U16(&cd[p + 30]), comment_len = U16(&cd[p + 32]);
    e.local_offset = U32(&cd[p + 42]);
    if (p + 46 + name_len + extra_len > cd.size())
      return absl::InvalidArgumentError(absl::StrCat(path, ": corrupt zip directory"));
    e.name.assign(reinterpret_cast<const char*>(&cd[p + 46]), name_len);
    // Zip64 extra field: the 0xFFFFFFFF fields, in order.
    size_t x = p + 46 + name_len, xe = x + extra_len;
    while (x + 4 <= xe) {
      int id = U16(&cd[x]), len = U16(&cd[x + 2]);
      if (id == 1) {
        size_t q = x + 4;
        if (e.size == 0xFFFFFFFFu && q + 8 <= x + 4 + len) { e.size = U64(&cd[q]); q += 8; }
        if (e.comp_size == 0xFFFFFFFFu && q + 8 <= x + 4 + len) { e.comp_size = U64(&cd[q]); q += 8; }
        if (e.local_offset == 0xFFFFFFFFu && q + 8 <= x + 4 + len) { e.local_offset = U64(&cd[q]); q += 8; }
      }
      x += 4 + len;
    }
    // Data starts after the local header, whose name/extra lengths may differ.
    unsigned char lh[30];
    in.seekg(e.local_offset);
    in.read(reinterpret_cast<char*>(lh), 30);
    if (!in || U32(lh) != 0x04034b50) return absl::InvalidArgumentError(absl::StrCat(path, ": corrupt zip entry ", e.name));
    e.local_offset += 30 + U16(lh + 26) + U16(lh + 28);
    out.push_back(std::move(e));
    p += 46 + name_len + extra_len + comment_len;
  }
  return out;
}

// ---------------------------------------------------------------- arrays read by rows

// One n-d array in a file, read sequentially.
struct ArraySpec {
  std::string where;  // "x.npz:input" for messages
  DataType type;
  std::vector<int64_t> dims;
  std::function<std::unique_ptr<ByteStream>()> open;  // positioned at the data
};

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

// A raw float32 file: `shape` (may cover several batches: the file holds k
// times its elements), or the model input's shape with the batch taken from
// the file size.
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

// ---------------------------------------------------------------- items

// A unit of the data source that yields one or more batches.
class Item {
 public:
  virtual ~Item() = default;
  virtual absl::StatusOr<std::optional<CalibrationSample>> Next() = 0;
  virtual void Reset() = 0;
  virtual int64_t rows() const = 0;  // -1 unknown
};

// dims of the TensorProto in a .pb file, read without loading its data
// (raw_data is skipped with a seek).
std::optional<std::vector<int64_t>> PbDims(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  google::protobuf::io::IstreamInputStream zin(&f);
  google::protobuf::io::CodedInputStream cis(&zin);
  cis.SetTotalBytesLimit(INT32_MAX);
  std::vector<int64_t> dims;
  using WFL = google::protobuf::internal::WireFormatLite;
  while (uint32_t tag = cis.ReadTag()) {
    int field = WFL::GetTagFieldNumber(tag);
    auto wt = WFL::GetTagWireType(tag);
    if (field == 1 && wt == WFL::WIRETYPE_VARINT) {
      uint64_t v;
      if (!cis.ReadVarint64(&v)) return std::nullopt;
      dims.push_back(static_cast<int64_t>(v));
    } else if (field == 1 && wt == WFL::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t len;
      if (!cis.ReadVarint32(&len)) return std::nullopt;
      auto lim = cis.PushLimit(len);
      while (cis.BytesUntilLimit() > 0) {
        uint64_t v;
        if (!cis.ReadVarint64(&v)) return std::nullopt;
        dims.push_back(static_cast<int64_t>(v));
      }
      cis.PopLimit(lim);
    } else if (!WFL::SkipField(&cis, tag)) {
      return std::nullopt;
    }
  }
  return dims;
}

class PbSetItem : public Item {
 public:
  PbSetItem(std::vector<std::string> files, const std::vector<InputInfo>* ins)
      : files_(std::move(files)), ins_(ins) {
    auto d = PbDims(files_[0]);
    rows_ = !d ? -1 : d->empty() ? 1 : (*d)[0];
  }
  absl::StatusOr<std::optional<CalibrationSample>> Next() override {
    if (done_) return std::nullopt;
    done_ = true;
    std::vector<NamedTensor> ts;
    std::vector<std::string> names;
    for (const auto& f : files_) {
      auto t = ReadTensorPb(f);
      if (!t.ok()) return t.status();
      names.push_back(t->name);
      ts.push_back(std::move(*t));
    }
    // Unnamed tensors go by position (input_K.pb -> K-th input); named ones by name.
    std::string where = files_.size() == 1 ? files_[0] : fs::path(files_[0]).parent_path().string();
    bool any_named = false;
    for (const auto& n : names) any_named |= !n.empty();
    std::vector<int> idx;
    if (any_named) {
      std::vector<std::string> keyed;
      for (size_t i = 0; i < names.size(); ++i) {
        if (names[i].empty())
          return absl::InvalidArgumentError(absl::StrCat(files_[i], ": unnamed tensor among named ones in ", where));
        keyed.push_back(names[i]);
      }
      for (size_t i = 0; i < keyed.size(); ++i) {
        bool known = false;
        for (const auto& in : *ins_) known |= in.name == keyed[i];
        if (!known)
          return absl::InvalidArgumentError(absl::StrCat(files_[i], ": tensor named '", keyed[i],
                                                         "' is not an input of the model (its inputs: ",
                                                         InputNames(*ins_), ")"));
      }
      auto m = MatchInputs(keyed, *ins_, where);
      if (!m.ok()) return m.status();
      idx = *m;
    } else {
      auto m = MatchInputs(std::vector<std::string>(names.size(), ""), *ins_, where);
      if (!m.ok()) return m.status();
      idx = *m;
    }
    CalibrationSample s;
    s.origin = where;
    for (size_t i = 0; i < ts.size(); ++i) {
      const InputInfo& in = (*ins_)[idx[i]];
      auto t = CheckInput(in, std::move(ts[i].tensor), files_[i]);
      if (!t.ok()) return t.status();
      if (i == 0) s.rows = RowsOf(*t);
      s.inputs.emplace_back(in.name, std::move(*t));
    }
    return s;
  }
  void Reset() override { done_ = false; }
  int64_t rows() const override { return rows_; }

 private:
  std::vector<std::string> files_;
  const std::vector<InputInfo>* ins_;
  int64_t rows_ = -1;
  bool done_ = false;
};

// Arrays (one per model input) stacked along axis 0, yielded in chunks.
class StackItem : public Item {
 public:
  struct Part {
    int input;  // index into ins
    ArraySpec spec;
    bool add_batch = false;  // the array is one example without the batch axis
    std::unique_ptr<ByteStream> stream;
  };

  static absl::StatusOr<std::unique_ptr<StackItem>> Create(std::vector<Part> parts,
                                                           const std::vector<InputInfo>* ins, int64_t max_batch) {
    auto item = std::unique_ptr<StackItem>(new StackItem());
    item->ins_ = ins;
    int64_t rows = -1;
    std::string first;
    for (Part& p : parts) {
      const InputInfo& in = (*ins)[p.input];
      if (in.dims && p.spec.dims.size() + 1 == in.dims->size()) p.add_batch = true;
      if (in.dims && !p.add_batch && in.dims->size() != p.spec.dims.size())
        return absl::InvalidArgumentError(absl::StrCat(p.spec.where, ": model input '", in.name, "' is ",
                                                       TypeShapeStr(in), ", the file holds ",
                                                       DataTypeName(p.spec.type), " ", DimsStr(p.spec.dims)));
      int64_t r = p.add_batch ? 1 : p.spec.dims.empty() ? 1 : p.spec.dims[0];
      if (rows >= 0 && r != rows)
        return absl::InvalidArgumentError(absl::StrCat(p.spec.where, " has ", r, " rows but ", first, " has ", rows,
                                                       ": arrays for different inputs must hold the same samples"));
      if (rows < 0) { rows = r; first = p.spec.where; }
      // A fixed batch dimension decides the chunk size.
      if (in.dims && !in.dims->empty() && (*in.dims)[0] > 0 && !p.add_batch) item->fixed_ = (*in.dims)[0];
    }
    item->rows_ = rows;
    item->chunk_ = item->fixed_ > 0 ? item->fixed_ : (rows <= max_batch ? std::max<int64_t>(rows, 1) : max_batch);
    item->parts_ = std::move(parts);
    return item;
  }

  absl::StatusOr<std::optional<CalibrationSample>> Next() override {
    if (pos_ >= rows_) return std::nullopt;
    int64_t n = std::min(chunk_, rows_ - pos_);
    if (fixed_ > 0 && n < fixed_) {
      std::cerr << "calibration: dropping the last " << n << " rows of " << parts_[0].spec.where
                << ": the model's batch dimension is fixed at " << fixed_ << "\n";
      pos_ = rows_;
      return std::nullopt;
    }
    CalibrationSample s;
    s.rows = n;
    s.origin = parts_[0].spec.where;
    for (Part& p : parts_) {
      const InputInfo& in = (*ins_)[p.input];
      if (!p.stream) {
        p.stream = p.spec.open();
        if (!p.stream) return absl::DataLossError(absl::StrCat(p.spec.where, ": cannot read"));
      }
      std::vector<int64_t> d = p.spec.dims;
      if (p.add_batch) d.insert(d.begin(), 1);
      if (!d.empty()) d[0] = n;
      Tensor t(p.spec.type, d);
      absl::Status st = p.stream->Read(t.mutable_raw(), static_cast<int64_t>(t.byte_size()));
      if (!st.ok()) return st;
      std::string where = rows_ > n ? absl::StrCat(p.spec.where, " rows ", pos_, "..", pos_ + n - 1) : p.spec.where;
      auto c = CheckInput(in, std::move(t), where);
      if (!c.ok()) return c.status();
      s.inputs.emplace_back(in.name, std::move(*c));
    }
    pos_ += n;
    return s;
  }
  void Reset() override {
    pos_ = 0;
    for (Part& p : parts_) p.stream.reset();
  }
  int64_t rows() const override { return rows_; }
  int64_t chunk() const { return chunk_; }

 private:
  StackItem() = default;
  std::vector<Part> parts_;
  const std::vector<InputInfo>* ins_ = nullptr;
  int64_t rows_ = 0, chunk_ = 1, fixed_ = -1, pos_ = 0;
};

// ---------------------------------------------------------------- sources

class ItemData : public CalibrationData {
 public:
  ItemData(std::vector<InputInfo> ins, int64_t max_samples) : ins_(std::move(ins)), max_(max_samples) {}
  std::vector<InputInfo>* ins() { return &ins_; }
  void Add(std::unique_ptr<Item> it) { items_.push_back(std::move(it)); }
  void set_description(std::string what) { what_ = std::move(what); }

  absl::StatusOr<std::optional<CalibrationSample>> Next() override {
    while (cur_ < items_.size()) {
      if (max_ >= 0 && yielded_ >= max_) return std::nullopt;
      auto s = items_[cur_]->Next();
      if (!s.ok()) return s.status();
      if (!s->has_value()) {
        ++cur_;
        continue;
      }
      CalibrationSample& smp = **s;
      if (max_ >= 0 && yielded_ + smp.rows > max_) {
        int64_t keep = max_ - yielded_;
        for (auto& [name, t] : smp.inputs)
          if (!t.dims().empty() && t.dims()[0] == smp.rows) t = SliceRows(t, keep);
        smp.rows = keep;
      }
      yielded_ += smp.rows;
      return s;
    }
    return std::nullopt;
  }
  int64_t size() const override {
    int64_t n = 0;
    for (const auto& it : items_) {
      if (it->rows() < 0) return max_;
      n += it->rows();
    }
    return max_ >= 0 ? std::min(n, max_) : n;
  }
  void Rewind() override {
    for (auto& it : items_) it->Reset();
    cur_ = 0;
    yielded_ = 0;
  }
  std::string Describe() const override {
    int64_t n = size();
    return absl::StrCat(n < 0 ? std::string("? samples") : absl::StrCat(n, " samples"), " from ", what_);
  }

 private:
  std::vector<InputInfo> ins_;
  int64_t max_;
  std::vector<std::unique_ptr<Item>> items_;
  size_t cur_ = 0;
  int64_t yielded_ = 0;
  std::string what_;
};

class RandomData : public CalibrationData {
 public:
  RandomData(std::vector<InputInfo> ins, int64_t total, int64_t max_batch, uint64_t seed)
      : ins_(std::move(ins)), total_(total), max_batch_(max_batch), seed_(seed), rng_(seed) {}

  absl::StatusOr<std::optional<CalibrationSample>> Next() override {
    if (done_ >= total_) return std::nullopt;
    int64_t rows = std::min<int64_t>(std::min<int64_t>(8, max_batch_), total_ - done_);
    CalibrationSample s;
    s.origin = "random";
    for (const InputInfo& in : ins_) {
      if (in.optional) continue;
      std::vector<int64_t> d = in.dims ? *in.dims : std::vector<int64_t>{};
      if (!d.empty() && d[0] > 0) rows = std::min<int64_t>(d[0], total_ - done_);
    }
    for (const InputInfo& in : ins_) {
      if (in.optional) continue;
      std::vector<int64_t> d = in.dims ? *in.dims : std::vector<int64_t>{};
      if (!d.empty()) d[0] = d[0] > 0 ? d[0] : rows;
      for (auto& x : d) x = x > 0 ? x : 1;
      DataType type = in.type == TensorProto::UNDEFINED ? TensorProto::FLOAT : in.type;
      Tensor t(type, d);
      std::normal_distribution<float> normal(0.f, 1.f);
      // Integers: 0/1 (flags, masks), or any row of the table they index.
      std::uniform_int_distribution<int64_t> small(0, in.index_range > 0 ? in.index_range - 1 : 1);
      for (int64_t i = 0; i < t.num_elements(); ++i) {
        switch (type) {
          case TensorProto::FLOAT: t.mutable_data<float>()[i] = normal(rng_); break;
          case TensorProto::DOUBLE: t.mutable_data<double>()[i] = normal(rng_); break;
          case TensorProto::FLOAT16: t.mutable_data<uint16_t>()[i] = FloatToHalf(normal(rng_)); break;
          case TensorProto::INT64: t.mutable_data<int64_t>()[i] = small(rng_); break;
          case TensorProto::INT32: t.mutable_data<int32_t>()[i] = static_cast<int32_t>(small(rng_)); break;
          case TensorProto::BOOL:
          case TensorProto::UINT8:
          case TensorProto::INT8: t.mutable_data<uint8_t>()[i] = static_cast<uint8_t>(small(rng_)); break;
          default:
            return absl::InvalidArgumentError(absl::StrCat("random calibration data: cannot make ",
                                                           DataTypeName(type), " input '", in.name, "'"));
        }
      }
      s.rows = d.empty() ? 1 : d[0];
      s.inputs.emplace_back(in.name, std::move(t));
    }
    done_ += s.rows;
    return s;
  }
  int64_t size() const override { return total_; }
  void Rewind() override {
    done_ = 0;
    rng_.seed(seed_);
  }
  std::string Describe() const override {
    return absl::StrCat(total_, " samples of RANDOM data (normal(0,1) floats, 0/1 or table-row integers; NOT real inputs)");
  }

 private:
  std::vector<InputInfo> ins_;
  int64_t total_, max_batch_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  int64_t done_ = 0;
};

// "name_10" after "name_9".
bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && std::isdigit(static_cast<unsigned char>(a[i2]))) ++i2;
      while (j2 < b.size() && std::isdigit(static_cast<unsigned char>(b[j2]))) ++j2;
      std::string x = a.substr(i, i2 - i), y = b.substr(j, j2 - j);
      while (x.size() > 1 && x[0] == '0') x.erase(0, 1);
      while (y.size() > 1 && y[0] == '0') y.erase(0, 1);
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      i = i2;
      j = j2;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::vector<std::string> InputPbFiles(const fs::path& dir) {
  std::vector<std::string> files;
  for (int k = 0;; ++k) {
    fs::path p = dir / absl::StrCat("input_", k, ".pb");
    if (!fs::exists(p)) break;
    files.push_back(p.string());
  }
  return files;
}

absl::Status AddArrayFile(ItemData& data, const std::string& path, const std::string& shape,
                          const CalibrationOptions& o) {
  const std::vector<InputInfo>& ins = *data.ins();
  std::string ext = fs::path(path).extension().string();
  std::vector<StackItem::Part> parts;
  if (ext == ".npz") {
    auto specs = NpzSpecs(path);
    if (!specs.ok()) return specs.status();
    std::vector<std::string> names;
    for (auto& [n, a] : *specs) names.push_back(n);
    auto idx = MatchInputs(names, ins, path);
    if (!idx.ok()) return idx.status();
    for (size_t i = 0; i < specs->size(); ++i) parts.push_back({(*idx)[i], std::move((*specs)[i].second)});
  } else {
    if (RequiredInputs(ins) > 1)
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": one array, but the model has ", RequiredInputs(ins), " inputs (", InputNames(ins),
          "); give a folder with one file per input named after it, or an .npz with one entry per input"));
    int input = 0;
    while (input < static_cast<int>(ins.size()) && ins[input].optional) ++input;
    if (input == static_cast<int>(ins.size())) return absl::InvalidArgumentError("the model has no inputs");
    absl::StatusOr<ArraySpec> spec = ext == ".npy" ? NpySpec(path) : BinSpec(path, shape, ins[input]);
    if (!spec.ok()) return spec.status();
    parts.push_back({input, std::move(*spec)});
  }
  auto item = StackItem::Create(std::move(parts), data.ins(), o.max_batch);
  if (!item.ok()) return item.status();
  data.Add(std::move(*item));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<CalibrationData>> CalibrationData::Open(const Model& model, const std::string& spec,
                                                                       int64_t max_samples) {
  CalibrationOptions o;
  o.max_samples = max_samples;
  return Open(model, spec, o);
}

absl::StatusOr<std::unique_ptr<CalibrationData>> CalibrationData::Open(const Model& model, const std::string& spec,
                                                                       const CalibrationOptions& o) {
  std::vector<InputInfo> ins = ModelInputs(model);
  if (RequiredInputs(ins) == 0) return absl::InvalidArgumentError("calibration: the model has no inputs to feed");
  if (spec.empty() || spec == "random") {
    int64_t n = o.max_samples > 0 ? o.max_samples : o.random_samples;
    if (o.warn_random) std::cerr << "\n"
              << "*****************************************************************************\n"
              << "** WARNING: no calibration data given: calibrating on RANDOM data (" << n << " samples)\n"
              << "** Activation ranges will not match real inputs and the quantized model's\n"
              << "** accuracy will likely be poor. Pass real samples with --calib-data.\n"
              << "*****************************************************************************\n\n";
    return std::unique_ptr<CalibrationData>(new RandomData(std::move(ins), n, o.max_batch, o.seed));
  }
  auto data = std::make_unique<ItemData>(std::move(ins), o.max_samples);
  std::string path = spec, shape = o.shape;
  // "x.bin:1x3x224x224"
  size_t colon = spec.rfind(':');
  if (colon != std::string::npos && !fs::exists(spec) && absl::EndsWith(spec.substr(0, colon), ".bin")) {
    path = spec.substr(0, colon);
    shape = spec.substr(colon + 1);
  }
  if (!fs::exists(path))
    return absl::NotFoundError(absl::StrCat("calibration data '", path, "' does not exist"));
  if (fs::is_directory(path)) {
    std::vector<std::string> sets, arrays;
    for (const auto& e : fs::directory_iterator(path)) {
      std::string name = e.path().filename().string();
      if (e.is_directory() && absl::StartsWith(name, "test_data_set_")) sets.push_back(e.path().string());
      std::string ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".npy" || ext == ".npz" || ext == ".bin")) arrays.push_back(e.path().string());
    }
    std::sort(sets.begin(), sets.end(), NaturalLess);
    std::sort(arrays.begin(), arrays.end(), NaturalLess);
    std::vector<std::string> direct = InputPbFiles(path);
    if (!sets.empty()) {
      for (const auto& s : sets) {
        auto files = InputPbFiles(s);
        if (files.empty())
          return absl::InvalidArgumentError(absl::StrCat(s, ": no input_0.pb (expected input_K.pb files)"));
        data->Add(std::make_unique<PbSetItem>(std::move(files), data->ins()));
      }
      data->set_description(absl::StrCat("folder ", path, " (", sets.size(), " test_data_set_* folders, .pb)"));
    } else if (!direct.empty()) {
      data->Add(std::make_unique<PbSetItem>(std::move(direct), data->ins()));
      data->set_description(absl::StrCat("folder ", path, " (input_K.pb)"));
    } else if (!arrays.empty()) {
      // One file per input, named after it: parallel stacks of samples.
      const auto& ins_ref = *data->ins();
      std::map<std::string, std::string> by_stem;
      for (const auto& a : arrays)
        if (fs::path(a).extension() != ".npz") by_stem[fs::path(a).stem().string()] = a;
      bool per_input = RequiredInputs(ins_ref) > 1;
      for (const auto& in : ins_ref)
        if (!in.optional && !by_stem.count(in.name)) per_input = false;
      if (per_input) {
        std::vector<StackItem::Part> parts;
        for (size_t i = 0; i < ins_ref.size(); ++i) {
          if (!by_stem.count(ins_ref[i].name)) continue;
          const std::string& f = by_stem[ins_ref[i].name];
          auto spec_or = fs::path(f).extension() == ".npy" ? NpySpec(f) : BinSpec(f, shape, ins_ref[i]);
          if (!spec_or.ok()) return spec_or.status();
          parts.push_back({static_cast<int>(i), std::move(*spec_or)});
        }
        auto item = StackItem::Create(std::move(parts), data->ins(), o.max_batch);
        if (!item.ok()) return item.status();
        data->Add(std::move(*item));
        data->set_description(absl::StrCat("folder ", path, " (one file per input)"));
      } else {
        std::set<std::string> exts;
        for (const auto& a : arrays) {
          exts.insert(fs::path(a).extension().string());
          absl::Status s = AddArrayFile(*data, a, shape, o);
          if (!s.ok()) return s;
        }
        data->set_description(absl::StrCat("folder ", path, " (", arrays.size(), " ",
                                           absl::StrJoin(exts, "/"), " files)"));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "calibration data folder ", path,
          " has no calibration files (expected test_data_set_*/input_K.pb, input_K.pb, *.npy, *.npz or *.bin)"));
    }
  } else {
    std::string ext = fs::path(path).extension().string();
    if (ext == ".pb") {
      data->Add(std::make_unique<PbSetItem>(std::vector<std::string>{path}, data->ins()));
      data->set_description(absl::StrCat("file ", path, " (.pb)"));
    } else if (ext == ".npy" || ext == ".npz" || ext == ".bin") {
      absl::Status s = AddArrayFile(*data, path, shape, o);
      if (!s.ok()) return s;
      data->set_description(absl::StrCat("file ", path, " (", ext, ")"));
    } else {
      return absl::InvalidArgumentError(absl::StrCat("calibration data ", path,
                                                     ": unknown format (expected a folder, .pb, .npy, .npz or .bin)"));
    }
  }
  return std::unique_ptr<CalibrationData>(std::move(data));
}

// ---------------------------------------------------------------- writers

namespace {
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

void Put16(std::string& s, uint32_t v) { s.push_back(v & 0xff); s.push_back((v >> 8) & 0xff); }
void Put32(std::string& s, uint32_t v) { Put16(s, v & 0xffff); Put16(s, v >> 16); }
}  // namespace

absl::Status WriteNpy(const std::string& path, const Tensor& t) {
  if (NpyDescr(t.type()).empty())
    return absl::InvalidArgumentError(absl::StrCat("WriteNpy: unsupported type ", DataTypeName(t.type())));
  std::ofstream f(path, std::ios::binary);
  std::string b = NpyBytes(t);
  f.write(b.data(), b.size());
  return f ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write ", path));
}

absl::Status WriteNpz(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& arrays,
                      bool compress) {
  std::string out, cd;
  for (const auto& [name, t] : arrays) {
    if (NpyDescr(t.type()).empty())
      return absl::InvalidArgumentError(absl::StrCat("WriteNpz: unsupported type ", DataTypeName(t.type())));
    std::string data = NpyBytes(t);
    uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(data.data()), data.size());
    std::string stored = data;
    if (compress) {
      z_stream z{};
      deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
      stored.assign(deflateBound(&z, data.size()), '\0');
      z.next_in = reinterpret_cast<Bytef*>(data.data());
      z.avail_in = data.size();
      z.next_out = reinterpret_cast<Bytef*>(stored.data());
      z.avail_out = stored.size();
      ::deflate(&z, Z_FINISH);
      stored.resize(z.total_out);
      deflateEnd(&z);
    }
    std::string fname = name + ".npy";
    uint32_t offset = out.size();
    auto header = [&](std::string& s, bool central) {
      Put32(s, central ? 0x02014b50 : 0x04034b50);
      if (central) Put16(s, 20);
      Put16(s, 20);
      Put16(s, 0);
      Put16(s, compress ? 8 : 0);
      Put16(s, 0);
      Put16(s, 0x21);
      Put32(s, crc);
      Put32(s, stored.size());
      Put32(s, data.size());
      Put16(s, fname.size());
      Put16(s, 0);
      if (central) {
        Put16(s, 0);
        Put16(s, 0);
        Put16(s, 0);
        Put32(s, 0);
        Put32(s, offset);
      }
      s += fname;
    };
    header(out, false);
    out += stored;
    header(cd, true);
  }
  uint32_t cd_offset = out.size();
  out += cd;
  Put32(out, 0x06054b50);
  Put16(out, 0);
  Put16(out, 0);
  Put16(out, arrays.size());
  Put16(out, arrays.size());
  Put32(out, cd.size());
  Put32(out, cd_offset);
  Put16(out, 0);
  std::ofstream f(path, std::ios::binary);
  f.write(out.data(), out.size());
  return f ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write ", path));
}

}  // namespace onnxc
