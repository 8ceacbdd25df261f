#include "analysis/calibration/model_inputs.h"

#include <cstring>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace onnxc {
namespace calibration {
namespace {

using onnx::TensorProto;

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

}  // namespace

using onnx::TensorProto;

std::string DimsStr(const std::vector<int64_t>& d) {
  return absl::StrCat("[", absl::StrJoin(d, ","), "]");
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

}  // namespace calibration
}  // namespace onnxc
