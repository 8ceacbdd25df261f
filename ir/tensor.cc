#include "ir/tensor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cctype>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace onnxc {
namespace {

// Copies a repeated proto field into little-endian bytes of `elem` size.
template <typename Field, typename Stored>
void PackTyped(const Field& field, std::string* out) {
  out->resize(field.size() * sizeof(Stored));
  Stored* dst = reinterpret_cast<Stored*>(out->data());
  for (int i = 0; i < field.size(); ++i) dst[i] = static_cast<Stored>(field.Get(i));
}

template <typename Stored, typename Field>
void UnpackTyped(const std::string& bytes, Field* field) {
  size_t n = bytes.size() / sizeof(Stored);
  const Stored* src = reinterpret_cast<const Stored*>(bytes.data());
  field->Reserve(n);
  for (size_t i = 0; i < n; ++i) field->Add(src[i]);
}

absl::Status ReadFileRange(const std::string& path, int64_t offset, int64_t length,
                           std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot open external data file ", path));
  out->resize(length);
  int64_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out->data() + done, length - done, offset + done);
    if (n <= 0) {
      ::close(fd);
      return absl::DataLossError(absl::StrCat("external data file ", path, " ends at byte ",
                                              offset + done, ", expected ", offset + length));
    }
    done += n;
  }
  ::close(fd);
  return absl::OkStatus();
}

}  // namespace

namespace {

// `path` is `root` or inside it (both real paths).
bool Inside(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path.size() > root.size() && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/';
}

std::string RealPath(const std::string& p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) == nullptr ? "" : std::string(buf);
}

}  // namespace

absl::StatusOr<std::string> ResolveExternalPath(const std::string& model_dir, const std::string& location,
                                                const std::string& model_file) {
  if (location.empty()) return absl::InvalidArgumentError("external data location is empty");
  bool drive = location.size() >= 2 && std::isalpha(static_cast<unsigned char>(location[0])) && location[1] == ':';
  if (location[0] == '/' || location[0] == '\\' || drive) {
    return absl::PermissionDeniedError(
        absl::StrCat("external data location '", location, "' is absolute; only paths inside the "
                     "model's folder are allowed"));
  }
  for (absl::string_view part : absl::StrSplit(location, absl::ByAnyChar("/\\"))) {
    if (part == "..") {
      return absl::PermissionDeniedError(absl::StrCat(
          "external data location '", location, "' leaves the model's folder ('..')"));
    }
  }
  std::string dir = model_dir.empty() ? "." : model_dir;
  std::string path = absl::StrCat(dir, "/", location);
  std::string real_dir = RealPath(dir);
  if (real_dir.empty()) return absl::NotFoundError(absl::StrCat("model folder ", dir, " does not exist"));
  std::string real_path = RealPath(path);
  if (real_path.empty()) {
    return absl::NotFoundError(absl::StrCat("external data file '", location,
                                            "' not found next to the model (looked for ", path, ")"));
  }
  // Symlinks: the data must really live in the model's folder, or in the
  // folder the model file itself really lives in (Bazel runfiles and model
  // hub snapshots link every file into a store). A link from the model's
  // folder to anywhere else is refused.
  if (Inside(real_path, real_dir)) return real_path;
  if (!model_file.empty()) {
    std::string real_model = RealPath(model_file);
    std::string store = real_model.substr(0, real_model.find_last_of('/'));
    if (!real_model.empty() && Inside(real_path, store.empty() ? "/" : store)) return real_path;
  }
  return absl::PermissionDeniedError(absl::StrCat("external data location '", location, "' resolves to ",
                                                  real_path, ", outside the model's folder ", real_dir));
}

Tensor::Tensor(DataType type, std::vector<int64_t> dims) : type_(type), dims_(std::move(dims)) {
  if (type_ == onnx::TensorProto::STRING) {
    storage_->strings.resize(num_elements());
  } else {
    storage_->bytes.assign(byte_size(), '\0');
  }
}

int64_t Tensor::num_elements() const {
  int64_t n = 1;
  for (int64_t d : dims_) n *= d;
  return n;
}

absl::StatusOr<Tensor> Tensor::FromProto(const onnx::TensorProto& proto,
                                         const std::string& model_dir) {
  onnx::TensorProto copy = proto;
  return FromProto(std::move(copy), model_dir);
}

absl::StatusOr<Tensor> Tensor::FromProto(onnx::TensorProto&& proto, const std::string& model_dir,
                                         const std::string& model_file) {
  Tensor t;
  t.type_ = static_cast<DataType>(proto.data_type());
  t.dims_.assign(proto.dims().begin(), proto.dims().end());
  t.doc_string_ = proto.doc_string();
  // Element and byte counts must fit comfortably in 64 bits (fuzzed models
  // carry dims whose product wraps around to a small number).
  int64_t count = 1;
  for (int64_t d : t.dims_) {
    if (d < 0) return absl::InvalidArgumentError(absl::StrCat("negative dimension ", d));
    if (__builtin_mul_overflow(count, d, &count) || count > (int64_t{1} << 58))
      return absl::InvalidArgumentError(absl::StrCat("shape [", absl::StrJoin(t.dims_, ","), "] is too large"));
  }
  if (proto.has_segment()) {
    return absl::UnimplementedError("segmented tensors are not supported");
  }
  Storage& s = *t.storage_;
  const size_t elem = ElementSize(t.type_);
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    t.encoding_ = TensorEncoding::kExternal;
    auto ext = std::make_unique<ExternalLocation>();
    for (const auto& kv : proto.external_data()) {
      if (kv.key() == "location") {
        ext->location = kv.value();
      } else if (kv.key() == "offset") {
        if (!absl::SimpleAtoi(kv.value(), &ext->offset) || ext->offset < 0)
          return absl::InvalidArgumentError(absl::StrCat("bad external data offset '", kv.value(), "'"));
      } else if (kv.key() == "length") {
        if (!absl::SimpleAtoi(kv.value(), &ext->length) || ext->length < 0)
          return absl::InvalidArgumentError(absl::StrCat("bad external data length '", kv.value(), "'"));
      } else {
        ext->extra.emplace_back(kv.key(), kv.value());
      }
    }
    if (elem == 0) return absl::InvalidArgumentError(
        absl::StrCat("external data for a tensor of type ", DataTypeName(t.type_), " (no fixed element size)"));
    auto path = ResolveExternalPath(model_dir, ext->location, model_file);
    if (!path.ok()) return path.status();
    ext->path = *path;
    struct stat st;
    if (::stat(ext->path.c_str(), &st) != 0) {
      return absl::NotFoundError(absl::StrCat("cannot stat external data file ", ext->path));
    }
    if (ext->offset > st.st_size)
      return absl::DataLossError(absl::StrCat("external data offset ", ext->offset, " is past the end of ",
                                              ext->location, " (", st.st_size, " bytes)"));
    if (ext->length < 0) ext->length = st.st_size - ext->offset;
    if (ext->offset + ext->length > st.st_size) {
      return absl::DataLossError(absl::StrCat("external data file ", ext->location, " has ",
                                              st.st_size, " bytes; tensor needs bytes ", ext->offset,
                                              "..", ext->offset + ext->length));
    }
    if (elem != 0 && static_cast<size_t>(ext->length) != t.byte_size()) {
      return absl::DataLossError(absl::StrCat("external data holds ", ext->length,
                                              " bytes, shape and type need ", t.byte_size()));
    }
    s.external = std::move(ext);
    s.loaded = false;
    return t;
  }
  if (proto.has_raw_data()) {
    t.encoding_ = TensorEncoding::kRaw;
    if (t.type_ == onnx::TensorProto::STRING)
      return absl::InvalidArgumentError("STRING tensor with raw_data");
    proto.mutable_raw_data()->swap(s.bytes);
  } else {
    t.encoding_ = TensorEncoding::kTyped;
    switch (t.type_) {
      case onnx::TensorProto::FLOAT:
      case onnx::TensorProto::COMPLEX64:
        PackTyped<decltype(proto.float_data()), float>(proto.float_data(), &s.bytes);
        break;
      case onnx::TensorProto::DOUBLE:
      case onnx::TensorProto::COMPLEX128:
        PackTyped<decltype(proto.double_data()), double>(proto.double_data(), &s.bytes);
        break;
      case onnx::TensorProto::INT64:
        PackTyped<decltype(proto.int64_data()), int64_t>(proto.int64_data(), &s.bytes);
        break;
      case onnx::TensorProto::UINT32:
        PackTyped<decltype(proto.uint64_data()), uint32_t>(proto.uint64_data(), &s.bytes);
        break;
      case onnx::TensorProto::UINT64:
        PackTyped<decltype(proto.uint64_data()), uint64_t>(proto.uint64_data(), &s.bytes);
        break;
      case onnx::TensorProto::INT32:
        PackTyped<decltype(proto.int32_data()), int32_t>(proto.int32_data(), &s.bytes);
        break;
      case onnx::TensorProto::INT16:
        PackTyped<decltype(proto.int32_data()), int16_t>(proto.int32_data(), &s.bytes);
        break;
      case onnx::TensorProto::UINT16:
      case onnx::TensorProto::FLOAT16:
      case onnx::TensorProto::BFLOAT16:
        PackTyped<decltype(proto.int32_data()), uint16_t>(proto.int32_data(), &s.bytes);
        break;
      case onnx::TensorProto::INT8:
        PackTyped<decltype(proto.int32_data()), int8_t>(proto.int32_data(), &s.bytes);
        break;
      case onnx::TensorProto::UINT8:
      case onnx::TensorProto::BOOL:
        PackTyped<decltype(proto.int32_data()), uint8_t>(proto.int32_data(), &s.bytes);
        break;
      case onnx::TensorProto::STRING:
        s.strings.assign(proto.string_data().begin(), proto.string_data().end());
        break;
      default:
        if (proto.float_data_size() + proto.int32_data_size() + proto.int64_data_size() > 0)
          return absl::InvalidArgumentError(
              absl::StrCat("tensor of type ", t.type_, " carries data"));
        break;
    }
  }
  if (elem != 0 && s.bytes.size() != t.byte_size()) {
    return absl::InvalidArgumentError(absl::StrCat("holds ", s.bytes.size(), " bytes but its shape [",
                                                   absl::StrJoin(t.dims_, ","), "] of ",
                                                   DataTypeName(t.type_), " needs ", t.byte_size()));
  }
  if (t.type_ == onnx::TensorProto::STRING &&
      static_cast<int64_t>(s.strings.size()) != t.num_elements()) {
    return absl::InvalidArgumentError(absl::StrCat("holds ", s.strings.size(),
                                                   " strings, shape needs ", t.num_elements()));
  }
  return t;
}

void Tensor::MetadataToProto(onnx::TensorProto* proto) const {
  proto->set_data_type(type_);
  for (int64_t d : dims_) proto->add_dims(d);
  if (!doc_string_.empty()) proto->set_doc_string(doc_string_);
}

void Tensor::ToProto(onnx::TensorProto* proto, bool inline_data) const {
  MetadataToProto(proto);
  const ExternalLocation* ext = external();
  if (encoding_ == TensorEncoding::kExternal && ext != nullptr && !inline_data) {
    proto->set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [&](const std::string& k, const std::string& v) {
      auto* e = proto->add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", ext->location);
    if (ext->offset != 0) add("offset", absl::StrCat(ext->offset));
    add("length", absl::StrCat(ext->length));
    for (const auto& kv : ext->extra) add(kv.first, kv.second);
    return;
  }
  Load().IgnoreError();
  const Storage& s = *storage_;
  if (type_ == onnx::TensorProto::STRING) {
    for (const auto& str : s.strings) proto->add_string_data(str);
    return;
  }
  if (encoding_ != TensorEncoding::kTyped) {
    proto->set_raw_data(s.bytes);
    return;
  }
  switch (type_) {
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::COMPLEX64:
      UnpackTyped<float>(s.bytes, proto->mutable_float_data());
      break;
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::COMPLEX128:
      UnpackTyped<double>(s.bytes, proto->mutable_double_data());
      break;
    case onnx::TensorProto::INT64:
      UnpackTyped<int64_t>(s.bytes, proto->mutable_int64_data());
      break;
    case onnx::TensorProto::UINT32:
      UnpackTyped<uint32_t>(s.bytes, proto->mutable_uint64_data());
      break;
    case onnx::TensorProto::UINT64:
      UnpackTyped<uint64_t>(s.bytes, proto->mutable_uint64_data());
      break;
    case onnx::TensorProto::INT32:
      UnpackTyped<int32_t>(s.bytes, proto->mutable_int32_data());
      break;
    case onnx::TensorProto::INT16:
      UnpackTyped<int16_t>(s.bytes, proto->mutable_int32_data());
      break;
    case onnx::TensorProto::UINT16:
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16:
      UnpackTyped<uint16_t>(s.bytes, proto->mutable_int32_data());
      break;
    case onnx::TensorProto::INT8:
      UnpackTyped<int8_t>(s.bytes, proto->mutable_int32_data());
      break;
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::BOOL:
      UnpackTyped<uint8_t>(s.bytes, proto->mutable_int32_data());
      break;
    default:
      break;
  }
}

const ExternalLocation* Tensor::external() const { return storage_->external.get(); }

bool Tensor::loaded() const {
  std::lock_guard<std::mutex> lock(storage_->mu);
  return storage_->loaded;
}

absl::Status Tensor::Load() const {
  Storage& s = *storage_;
  if (s.loaded.load(std::memory_order_acquire)) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.loaded) return absl::OkStatus();
  absl::Status st = ReadFileRange(s.external->path, s.external->offset, s.external->length, &s.bytes);
  if (!st.ok()) return st;
  s.loaded.store(true, std::memory_order_release);
  return absl::OkStatus();
}

void Tensor::Unload() const {
  Storage& s = *storage_;
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.external == nullptr || !s.loaded) return;
  std::string().swap(s.bytes);
  s.loaded = false;
}

const char* Tensor::raw() const {
  absl::Status st = Load();
  if (!st.ok()) {
    // The file was checked at load time; losing it mid-run is unrecoverable.
    std::fprintf(stderr, "fatal: %s\n", st.ToString().c_str());
    std::abort();
  }
  return storage_->bytes.data();
}

void Tensor::MakeUnique() {
  raw();
  if (storage_.use_count() == 1) return;
  auto fresh = std::make_shared<Storage>();
  fresh->bytes = storage_->bytes;
  fresh->strings = storage_->strings;
  storage_ = std::move(fresh);
  // A written tensor no longer matches its external file.
  if (encoding_ == TensorEncoding::kExternal) encoding_ = TensorEncoding::kRaw;
}

char* Tensor::mutable_raw() {
  MakeUnique();
  if (encoding_ == TensorEncoding::kExternal) {
    encoding_ = TensorEncoding::kRaw;
    storage_->external.reset();
  }
  return storage_->bytes.data();
}

const std::vector<std::string>& Tensor::strings() const { return storage_->strings; }

std::vector<std::string>* Tensor::mutable_strings() {
  MakeUnique();
  return &storage_->strings;
}

double Tensor::ScalarAt(int64_t i) const {
  const char* p = raw();
  switch (type_) {
    case onnx::TensorProto::FLOAT: return reinterpret_cast<const float*>(p)[i];
    case onnx::TensorProto::DOUBLE: return reinterpret_cast<const double*>(p)[i];
    case onnx::TensorProto::INT64: return static_cast<double>(reinterpret_cast<const int64_t*>(p)[i]);
    case onnx::TensorProto::INT32: return reinterpret_cast<const int32_t*>(p)[i];
    case onnx::TensorProto::INT16: return reinterpret_cast<const int16_t*>(p)[i];
    case onnx::TensorProto::INT8: return reinterpret_cast<const int8_t*>(p)[i];
    case onnx::TensorProto::UINT8: return reinterpret_cast<const uint8_t*>(p)[i];
    case onnx::TensorProto::BOOL: return reinterpret_cast<const uint8_t*>(p)[i] ? 1 : 0;
    case onnx::TensorProto::UINT16: return reinterpret_cast<const uint16_t*>(p)[i];
    case onnx::TensorProto::UINT32: return reinterpret_cast<const uint32_t*>(p)[i];
    case onnx::TensorProto::UINT64: return static_cast<double>(reinterpret_cast<const uint64_t*>(p)[i]);
    case onnx::TensorProto::FLOAT16: return HalfToFloat(reinterpret_cast<const uint16_t*>(p)[i]);
    case onnx::TensorProto::BFLOAT16: return BFloat16ToFloat(reinterpret_cast<const uint16_t*>(p)[i]);
    default: return 0;
  }
}

std::vector<float> Tensor::ToFloatVector() const {
  int64_t n = num_elements();
  std::vector<float> out(n);
  if (type_ == onnx::TensorProto::FLOAT) {
    std::memcpy(out.data(), raw(), n * sizeof(float));
  } else if (type_ == onnx::TensorProto::FLOAT16) {
    const uint16_t* h = data<uint16_t>();
    for (int64_t i = 0; i < n; ++i) out[i] = HalfToFloat(h[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(ScalarAt(i));
  }
  return out;
}

bool Tensor::SameContents(const Tensor& other) const {
  if (type_ != other.type_ || dims_ != other.dims_) return false;
  if (type_ == onnx::TensorProto::STRING) return strings() == other.strings();
  if (storage_ == other.storage_) return true;
  return std::memcmp(raw(), other.raw(), byte_size()) == 0;
}

}  // namespace onnxc
