#include "ir/import.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl.h"

namespace onnxc {
namespace {

absl::Status Annotate(const absl::Status& s, const std::string& where) {
  return absl::Status(s.code(), absl::StrCat(where, ": ", s.message()));
}

std::string GraphLabel(const Graph& g) {
  std::string label = absl::StrCat("graph '", g.name(), "'");
  if (g.parent_node() != nullptr)
    label = absl::StrCat(label, " (body of ", g.parent_node()->Describe(), ")");
  return label;
}

// Arena-aware moves. LoadModel parses on an arena, and moving (or Swap-ing)
// a message between an arena and the heap deep-copies it; these copy the
// small fields but hand over tensor bytes by swapping the std::string
// buffers (a string's buffer is heap memory even when the string object
// lives on an arena), so weights are never copied.
template <typename M>
void MoveMessage(M&& from, M* to) {
  if (from.GetArena() == to->GetArena()) {
    *to = std::move(from);
  } else {
    to->CopyFrom(from);
  }
}

void MoveTensor(onnx::TensorProto&& from, onnx::TensorProto* to) {
  if (from.GetArena() == to->GetArena()) {
    *to = std::move(from);
    return;
  }
  std::string raw;
  bool has_raw = from.has_raw_data();
  if (has_raw) raw.swap(*from.mutable_raw_data());
  from.clear_raw_data();
  to->CopyFrom(from);
  if (has_raw) to->mutable_raw_data()->swap(raw);
}

void MoveSparse(onnx::SparseTensorProto&& from, onnx::SparseTensorProto* to) {
  if (from.GetArena() == to->GetArena()) {
    *to = std::move(from);
    return;
  }
  onnx::TensorProto values, indices;
  bool has_values = from.has_values(), has_indices = from.has_indices();
  if (has_values) MoveTensor(std::move(*from.mutable_values()), &values);
  if (has_indices) MoveTensor(std::move(*from.mutable_indices()), &indices);
  from.clear_values();
  from.clear_indices();
  to->CopyFrom(from);
  if (has_values) to->mutable_values()->Swap(&values);
  if (has_indices) to->mutable_indices()->Swap(&indices);
}

// `from` must have no subgraphs left (g and graphs cleared).
void MoveAttribute(onnx::AttributeProto&& from, onnx::AttributeProto* to) {
  if (from.GetArena() == to->GetArena()) {
    *to = std::move(from);
    return;
  }
  onnx::TensorProto t;
  onnx::SparseTensorProto st;
  std::vector<onnx::TensorProto> ts;
  std::vector<onnx::SparseTensorProto> sts;
  bool has_t = from.has_t(), has_st = from.has_sparse_tensor();
  if (has_t) MoveTensor(std::move(*from.mutable_t()), &t);
  if (has_st) MoveSparse(std::move(*from.mutable_sparse_tensor()), &st);
  ts.resize(from.tensors_size());
  for (int i = 0; i < from.tensors_size(); ++i) MoveTensor(std::move(*from.mutable_tensors(i)), &ts[i]);
  sts.resize(from.sparse_tensors_size());
  for (int i = 0; i < from.sparse_tensors_size(); ++i)
    MoveSparse(std::move(*from.mutable_sparse_tensors(i)), &sts[i]);
  from.clear_t();
  from.clear_sparse_tensor();
  from.clear_tensors();
  from.clear_sparse_tensors();
  to->CopyFrom(from);
  if (has_t) to->mutable_t()->Swap(&t);
  if (has_st) to->mutable_sparse_tensor()->Swap(&st);
  for (auto& x : ts) to->add_tensors()->Swap(&x);
  for (auto& x : sts) to->add_sparse_tensors()->Swap(&x);
}

class Importer {
 public:
  Importer(std::string dir, std::string path) : dir_(std::move(dir)), path_(std::move(path)) {}

  absl::Status ImportGraph(onnx::GraphProto&& gp, Graph* g) {
    onnx::GraphProto* meta = g->mutable_meta();
    meta->Clear();
    meta->set_name(gp.name());
    if (gp.has_doc_string()) meta->set_doc_string(gp.doc_string());
    if (gp.GetArena() == meta->GetArena()) {
      *meta->mutable_quantization_annotation() = std::move(*gp.mutable_quantization_annotation());
    } else {
      *meta->mutable_quantization_annotation() = gp.quantization_annotation();
    }
    const std::string where = GraphLabel(*g);

    for (const auto& in : gp.input()) {
      if (in.name().empty())
        return absl::InvalidArgumentError(absl::StrCat(where, ": a graph input has an empty name"));
      if (g->FindLocalValue(in.name()) != nullptr)
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": graph input '", in.name(), "' is listed twice"));
      Value* v = g->AddInput(in.name());
      if (in.has_type()) v->set_type(in.type());
      if (in.has_doc_string()) v->set_doc_string(in.doc_string());
    }
    for (auto& t : *gp.mutable_initializer()) {
      std::string name = t.name();
      if (name.empty())
        return absl::InvalidArgumentError(absl::StrCat(where, ": an initializer has an empty name"));
      Value* v = g->FindLocalValue(name);
      if (v != nullptr && (!v->is_graph_input() || v->has_initializer()))
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": initializer '", name, "' is defined twice"));
      auto tensor = Tensor::FromProto(std::move(t), dir_, path_);
      if (!tensor.ok()) return Annotate(tensor.status(), absl::StrCat(where, ": initializer '", name, "'"));
      if (v == nullptr) v = g->CreateValue(name);
      g->SetInitializer(v, std::move(*tensor));
    }
    for (auto& sp : *gp.mutable_sparse_initializer()) {
      std::string name = sp.values().name();
      if (name.empty())
        return absl::InvalidArgumentError(absl::StrCat(where, ": a sparse initializer has an empty name"));
      if (g->FindLocalValue(name) != nullptr)
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": sparse initializer '", name, "' is defined twice"));
      onnx::SparseTensorProto heap;
      MoveSparse(std::move(sp), &heap);
      g->AddSparseInitializer(name, std::move(heap));
    }
    // Pass 1: nodes and their outputs, so inputs may refer to any of them
    // (models that are not topologically sorted are sorted below).
    std::vector<Node*> nodes;
    nodes.reserve(gp.node_size());
    for (auto& np : *gp.mutable_node()) {
      Node* n = g->NewDetachedNode(np.op_type(), np.domain());
      n->set_name(np.name());
      if (np.has_doc_string()) n->set_doc_string(np.doc_string());
      for (int i = 0; i < np.output_size(); ++i) {
        const std::string& out = np.output(i);
        Value* v = nullptr;
        if (!out.empty()) {
          if (Value* prev = g->FindLocalValue(out)) {
            std::string by = prev->producer() ? prev->producer()->Describe()
                             : prev->is_graph_input() ? "a graph input" : "an initializer";
            return absl::InvalidArgumentError(absl::StrCat(
                where, ": value '", out, "' is defined twice: by ", by, " and by node ", n->Describe()));
          }
          v = g->CreateValue(out);
          g->SetProducer(v, n, i);
        }
        g->AppendNodeOutput(n, v);
      }
      nodes.push_back(n);
    }
    // Pass 2: inputs, attributes and subgraphs.
    for (size_t k = 0; k < nodes.size(); ++k) {
      Node* n = nodes[k];
      onnx::NodeProto& np = *gp.mutable_node(static_cast<int>(k));
      for (const std::string& in : np.input()) {
        Value* v = nullptr;
        if (!in.empty()) {
          v = g->FindValue(in);
          if (v == nullptr)
            return absl::InvalidArgumentError(absl::StrCat(
                where, ": node ", n->Describe(), " reads '", in, "', which nothing defines"));
        }
        n->AddInput(v);
      }
      for (auto& ap : *np.mutable_attribute()) {
        // Bodies are imported in place (no copy off the arena).
        std::vector<onnx::GraphProto*> bodies;
        if (ap.has_g()) bodies.push_back(ap.mutable_g());
        for (auto& b : *ap.mutable_graphs()) bodies.push_back(&b);
        std::vector<std::unique_ptr<Graph>> subs;
        for (onnx::GraphProto* body : bodies) {
          auto sub = std::make_unique<Graph>(n);
          absl::Status s = ImportGraph(std::move(*body), sub.get());
          if (!s.ok()) return s;
          subs.push_back(std::move(sub));
        }
        ap.clear_g();
        ap.clear_graphs();
        onnx::AttributeProto heap;
        MoveAttribute(std::move(ap), &heap);
        Attribute attr(std::move(heap));
        for (auto& sub : subs) attr.add_graph(std::move(sub));
        n->SetAttr(std::move(attr));
      }
    }
    for (const auto& out : gp.output()) {
      Value* v = g->FindValue(out.name());
      if (v == nullptr)
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": graph output '", out.name(), "' is not defined"));
      if (out.has_type() && !v->has_type()) v->set_type(out.type());
      g->AddOutput(v);
    }
    for (auto& vi : *gp.mutable_value_info()) {
      Value* v = g->FindLocalValue(vi.name());
      if (v == nullptr || v->in_value_info()) {
        g->orphan_value_info().emplace_back();
        MoveMessage(std::move(vi), &g->orphan_value_info().back());
        continue;
      }
      if (vi.has_type()) {
        if (vi.GetArena() == nullptr) {
          v->set_type(std::move(*vi.mutable_type()));
        } else {
          v->set_type(vi.type());
        }
      }
      if (vi.has_doc_string()) v->set_doc_string(vi.doc_string());
      g->AddToValueInfo(v);
    }
    absl::Status sorted = g->TopologicalSort();
    if (!sorted.ok()) return sorted;
    return absl::OkStatus();
  }

 private:
  std::string dir_, path_;
};

google::protobuf::ArenaOptions ArenaOptionsFor(size_t /*bytes*/) {
  google::protobuf::ArenaOptions o;
  o.start_block_size = 64 << 10;
  o.max_block_size = 4 << 20;
  return o;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> ImportModel(onnx::ModelProto&& proto,
                                                   const std::string& model_dir,
                                                   const std::string& path) {
  std::string label = path.empty() ? "model" : path;
  if (!proto.has_graph())
    return absl::InvalidArgumentError(absl::StrCat(label, ": the model has no graph"));
  auto model = std::make_unique<Model>();
  model->set_dir(model_dir);
  model->set_path(path);
  Importer importer(model_dir, path);
  // The graph is imported in place: on an arena, Swap-ing it out would copy.
  absl::Status s = importer.ImportGraph(std::move(*proto.mutable_graph()), &model->graph());
  if (!s.ok()) return Annotate(s, label);
  proto.clear_graph();
  MoveMessage(std::move(proto), model->mutable_meta());
  return model;
}

absl::StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    return absl::NotFoundError(absl::StrCat("cannot open model ", path, ": ", std::strerror(errno)));
  // Parsed on an arena: the whole proto is freed at once after import
  // (tensor bytes are swapped out of it into the IR, never copied).
  google::protobuf::Arena arena(ArenaOptionsFor(0));
  onnx::ModelProto& proto = *google::protobuf::Arena::CreateMessage<onnx::ModelProto>(&arena);
  bool ok;
  {
    google::protobuf::io::FileInputStream file(fd);
    google::protobuf::io::CodedInputStream coded(&file);
    coded.SetTotalBytesLimit(INT_MAX);
    ok = proto.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
  }
  ::close(fd);
  if (!ok)
    return absl::DataLossError(absl::StrCat(
        path, ": not a valid ONNX model (the protobuf is truncated or corrupt, or nests graphs deeper "
        "than protobuf's limit of 100 messages)"));
  std::string dir = ".";
  size_t slash = path.find_last_of('/');
  if (slash != std::string::npos) dir = slash == 0 ? "/" : path.substr(0, slash);
  return ImportModel(std::move(proto), dir, path);
}

absl::StatusOr<std::unique_ptr<Model>> ParseModel(const std::string& bytes,
                                                  const std::string& model_dir) {
  google::protobuf::Arena arena(ArenaOptionsFor(bytes.size()));
  onnx::ModelProto& proto = *google::protobuf::Arena::CreateMessage<onnx::ModelProto>(&arena);
  if (!proto.ParseFromString(bytes))
    return absl::DataLossError("not a valid ONNX model (the protobuf is truncated or corrupt)");
  return ImportModel(std::move(proto), model_dir);
}

}  // namespace onnxc
