#include "ir/model.h"

namespace onnxc {

Model::Model() : graph_(std::make_unique<Graph>()) {}

int64_t Model::OpsetVersion(const std::string& domain) const {
  bool want_default = domain.empty() || domain == "ai.onnx";
  for (const auto& op : meta_.opset_import()) {
    bool is_default = op.domain().empty() || op.domain() == "ai.onnx";
    if (want_default ? is_default : op.domain() == domain) return op.version();
  }
  return -1;
}

void Model::SetOpsetVersion(const std::string& domain, int64_t version) {
  bool want_default = domain.empty() || domain == "ai.onnx";
  for (auto& op : *meta_.mutable_opset_import()) {
    bool is_default = op.domain().empty() || op.domain() == "ai.onnx";
    if (want_default ? is_default : op.domain() == domain) {
      op.set_version(version);
      return;
    }
  }
  auto* op = meta_.add_opset_import();
  op->set_domain(domain);
  op->set_version(version);
}

void Model::Swap(Model& other) {
  meta_.Swap(&other.meta_);
  graph_.swap(other.graph_);
  dir_.swap(other.dir_);
  path_.swap(other.path_);
}

std::unique_ptr<Model> Model::Clone() const {
  auto m = std::make_unique<Model>();
  m->meta_ = meta_;
  m->graph_ = graph_->Clone();
  m->dir_ = dir_;
  m->path_ = path_;
  return m;
}

}  // namespace onnxc
