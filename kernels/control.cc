// Control flow: If and Loop. Bodies run in a child frame whose outer scope is
// the calling graph, so captured outer values are read in place.
#include <cstring>

#include "kernels/registry.h"

namespace onnxc {
namespace kernels {
namespace {

const Graph* GraphAttr(const Node& n, const char* name) {
  const Attribute* a = n.attr(name);
  return a ? a->graph() : nullptr;
}

absl::Status IfKernel(OpContext& c) {
  if (c.sub == nullptr) return c.Error("If needs a subgraph runner");
  bool cond = c.input(0).At(0) != 0;
  const Graph* g = GraphAttr(c.node, cond ? "then_branch" : "else_branch");
  if (g == nullptr) return c.Error("If without branch graphs");
  auto outs = c.sub->RunSubgraph(*g, {});
  if (!outs.ok()) return outs.status();
  if (outs->size() != c.out.size()) return c.Error("If branch output count differs from node outputs");
  for (size_t i = 0; i < outs->size(); ++i) c.out[i] = std::move((*outs)[i]);
  return absl::OkStatus();
}

absl::Status LoopKernel(OpContext& c) {
  if (c.sub == nullptr) return c.Error("Loop needs a subgraph runner");
  const Graph* body = GraphAttr(c.node, "body");
  if (body == nullptr) return c.Error("Loop without body");
  int64_t max_trip = c.has(0) && c.input(0).numel() > 0 ? c.input(0).IntAt(0) : INT64_MAX;
  bool cond = c.has(1) && c.input(1).numel() > 0 ? c.input(1).At(0) != 0 : true;
  int n_carried = c.num_inputs() - 2;
  int n_scan = static_cast<int>(c.out.size()) - n_carried;
  if (n_carried < 0 || n_scan < 0) return c.Error("Loop inputs/outputs do not match");
  std::vector<KTensor> carried;
  for (int i = 0; i < n_carried; ++i) carried.push_back(c.input(2 + i));
  std::vector<std::vector<KTensor>> scans(n_scan);
  int64_t it = 0;
  for (; it < max_trip && cond; ++it) {
    std::vector<KTensor> in;
    in.push_back(KTensor::Scalar(TP::INT64, static_cast<double>(it)));
    in.push_back(KTensor::Scalar(TP::BOOL, cond ? 1 : 0));
    for (auto& t : carried) in.push_back(t);
    auto outs = c.sub->RunSubgraph(*body, std::move(in));
    if (!outs.ok()) return outs.status();
    if (static_cast<int>(outs->size()) != 1 + n_carried + n_scan) {
      return c.Error("Loop body output count is not 1 + carried + scan");
    }
    cond = (*outs)[0].At(0) != 0;
    for (int i = 0; i < n_carried; ++i) carried[i] = std::move((*outs)[1 + i]);
    for (int i = 0; i < n_scan; ++i) scans[i].push_back(std::move((*outs)[1 + n_carried + i]));
  }
  for (int i = 0; i < n_carried; ++i) c.out[i] = carried[i];
  for (int i = 0; i < n_scan; ++i) {
    std::vector<int64_t> dims;
    DataType type = TP::FLOAT;
    if (!scans[i].empty()) {
      dims = scans[i][0].dims;
      type = scans[i][0].type;
    } else if (const Value* v = body->outputs()[1 + n_carried + i]) {
      if (v->elem_type() != TP::UNDEFINED) type = v->elem_type();
      if (auto s = v->shape()) {
        for (int64_t d : *s) dims.push_back(d < 0 ? 0 : d);
      }
    }
    dims.insert(dims.begin(), static_cast<int64_t>(scans[i].size()));
    KTensor y = KTensor::Alloc(type, dims);
    size_t off = 0;
    for (const KTensor& t : scans[i]) {
      if (t.type != type || t.nbytes() != scans[i][0].nbytes()) {
        return c.Error("Loop scan outputs change shape across iterations");
      }
      std::memcpy(static_cast<char*>(y.data) + off, t.data, t.nbytes());
      off += t.nbytes();
    }
    c.out[n_carried + i] = std::move(y);
  }
  return absl::OkStatus();
}

ONNXC_REGISTER_KERNEL("If", 1, 1000, IfKernel);
ONNXC_REGISTER_KERNEL("Loop", 1, 1000, LoopKernel);

}  // namespace
}  // namespace kernels
}  // namespace onnxc
