#include "analysis/calibration/calibration_data.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/match.h"
#include "analysis/calibration/array_files.h"
#include "analysis/calibration/model_inputs.h"
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
using namespace calibration;  // the readers of each format (this folder)

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
                                                           const std::vector<InputInfo>* ins, int64_t max_batch,
                                                           const Reporter& reporter) {
    auto item = std::unique_ptr<StackItem>(new StackItem());
    item->ins_ = ins;
    item->reporter_ = reporter;
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
      reporter_.Note(absl::StrCat("calibration: dropping the last ", n, " rows of ", parts_[0].spec.where,
                                   ": the model's batch dimension is fixed at ", fixed_));
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
  Reporter reporter_;
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
  auto item = StackItem::Create(std::move(parts), data.ins(), o.max_batch, o.reporter);
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
    if (o.warn_random)
      o.reporter.Note(absl::StrCat(
          "\n*****************************************************************************\n"
          "** WARNING: no calibration data given: calibrating on RANDOM data (", n, " samples)\n"
          "** Activation ranges will not match real inputs and the quantized model's\n"
          "** accuracy will likely be poor. Pass real samples with --calib-data.\n"
          "*****************************************************************************\n"));
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
        auto item = StackItem::Create(std::move(parts), data->ins(), o.max_batch, o.reporter);
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

absl::StatusOr<std::unique_ptr<CalibrationData>> OpenCalibrationData(const Model& model,
                                                                     const CalibrationSettings& settings,
                                                                     const Reporter& reporter) {
  CalibrationOptions co;
  co.max_samples = settings.samples;
  co.max_batch = settings.batch;
  co.shape = settings.shape;
  co.reporter = reporter;
  return CalibrationData::Open(model, settings.data, co);
}

}  // namespace onnxc
