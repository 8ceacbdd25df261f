#include "ir/export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "absl/container/flat_hash_set.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl.h"

namespace onnxc {
namespace {

using google::protobuf::io::CodedOutputStream;

void ValueToInfo(const Value* v, onnx::ValueInfoProto* info) {
  info->set_name(v->name());
  if (v->has_type()) *info->mutable_type() = *v->type();
  if (!v->doc_string().empty()) info->set_doc_string(v->doc_string());
}

void TensorToProto(const Tensor& t, const std::string& name, const ExportOptions& options,
                   onnx::TensorProto* proto) {
  proto->set_name(name);
  bool external_ref = t.encoding() == TensorEncoding::kExternal && !options.inline_external;
  if (!external_ref && options.max_tensor_bytes >= 0 &&
      static_cast<int64_t>(t.byte_size()) > options.max_tensor_bytes) {
    t.MetadataToProto(proto);
    // A one-byte placeholder keeps the proto valid for ONNX 1.12's checker
    // (it counts non-empty value fields but never reads weight values).
    if (t.type() != onnx::TensorProto::STRING) proto->set_raw_data(std::string(1, '\0'));
    return;
  }
  t.ToProto(proto, options.inline_external);
}

}  // namespace

namespace {

void ExportGraphImpl(const Graph& graph, onnx::GraphProto* gp, const ExportOptions& options,
                     bool with_nodes, bool with_value_info = true);

// Fills `np` (cleared first, so a reused proto keeps its allocations).
void ExportNode(const Node& n, onnx::NodeProto* np, const ExportOptions& options) {
  np->Clear();
  for (const Value* in : n.inputs()) np->add_input(in ? in->name() : "");
  for (const Value* out : n.outputs()) np->add_output(out ? out->name() : "");
  if (!n.name().empty()) np->set_name(n.name());
  np->set_op_type(n.op_type());
  if (!n.domain().empty()) np->set_domain(n.domain());
  if (!n.doc_string().empty()) np->set_doc_string(n.doc_string());
  for (const Attribute& a : n.attributes()) {
    onnx::AttributeProto* ap = np->add_attribute();
    *ap = a.proto();
    if (a.type() == onnx::AttributeProto::GRAPH && a.graph() != nullptr) {
      ExportGraphImpl(*a.graph(), ap->mutable_g(), options, true);
    } else {
      for (const auto& sub : a.graphs()) ExportGraphImpl(*sub, ap->add_graphs(), options, true);
    }
  }
}

// Calls f(info) for each value_info entry of `graph`, in order; `scratch`
// is reused for the entries made from values.
template <typename F>
void ForEachValueInfo(const Graph& graph, const ExportOptions& options, onnx::ValueInfoProto* scratch,
                      F&& f) {
  for (const Value* v : graph.value_info()) {
    scratch->Clear();
    ValueToInfo(v, scratch);
    f(*scratch);
  }
  for (const auto& vi : graph.orphan_value_info()) f(vi);
  if (options.inferred_value_info) {
    for (const auto& n : graph.nodes()) {
      for (const Value* out : n->outputs()) {
        if (out != nullptr && out->has_type() && !out->in_value_info() && !out->IsGraphOutput()) {
          scratch->Clear();
          ValueToInfo(out, scratch);
          f(*scratch);
        }
      }
    }
  }
}

void ExportGraphImpl(const Graph& graph, onnx::GraphProto* gp, const ExportOptions& options,
                     bool with_nodes, bool with_value_info) {
  *gp = graph.meta();
  for (const Value* v : graph.inputs()) ValueToInfo(v, gp->add_input());
  bool skip_dense = options.skip_main_initializers && graph.parent_node() == nullptr;
  for (const Value* v : graph.initializers()) {
    if (skip_dense && v->has_initializer()) continue;
    if (v->is_sparse_initializer()) *gp->add_sparse_initializer() = *v->sparse_initializer();
    if (v->has_initializer()) TensorToProto(*v->initializer(), v->name(), options, gp->add_initializer());
  }
  if (with_nodes) {
    gp->mutable_node()->Reserve(graph.num_nodes());
    for (const auto& n : graph.nodes()) ExportNode(*n, gp->add_node(), options);
  }
  for (const Value* v : graph.outputs()) ValueToInfo(v, gp->add_output());
  if (!with_value_info) return;
  for (const Value* v : graph.value_info()) ValueToInfo(v, gp->add_value_info());
  for (const auto& vi : graph.orphan_value_info()) *gp->add_value_info() = vi;
  if (options.inferred_value_info) {
    for (const auto& n : graph.nodes()) {
      for (const Value* out : n->outputs()) {
        if (out != nullptr && out->has_type() && !out->in_value_info() && !out->IsGraphOutput())
          ValueToInfo(out, gp->add_value_info());
      }
    }
  }
}

// Appends `m` to `out` as a length-delimited field with tag `tag`.
void AppendField(uint32_t tag, const google::protobuf::MessageLite& m, std::string* out) {
  size_t size = m.ByteSizeLong();
  size_t at = out->size();
  out->resize(at + CodedOutputStream::VarintSize32(tag) + CodedOutputStream::VarintSize64(size) + size);
  uint8_t* p = reinterpret_cast<uint8_t*>(&(*out)[at]);
  p = CodedOutputStream::WriteVarint32ToArray(tag, p);
  p = CodedOutputStream::WriteVarint64ToArray(size, p);
  m.SerializeWithCachedSizesToArray(p);
}

}  // namespace

void ExportGraph(const Graph& graph, onnx::GraphProto* gp, const ExportOptions& options) {
  ExportGraphImpl(graph, gp, options, true);
}

namespace {

// A graph input declaring `t`'s name, element type and shape.
void InputOfTensor(const onnx::TensorProto& t, onnx::ValueInfoProto* info) {
  info->set_name(t.name());
  auto* tt = info->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(t.data_type());
  auto* shape = tt->mutable_shape();
  for (int64_t d : t.dims()) shape->add_dim()->set_dim_value(d);
}

}  // namespace

void ExportNodesAsGraph(const Graph& graph, const std::vector<const Node*>& nodes,
                        onnx::GraphProto* gp, const ExportOptions& options) {
  gp->set_name(graph.name());
  absl::flat_hash_set<const Node*> chosen(nodes.begin(), nodes.end());
  absl::flat_hash_set<const Value*> declared;
  // A value read from outside the chosen nodes: declare it once.
  auto declare = [&](const Value* v) {
    if (v == nullptr || v->graph() != &graph || chosen.contains(v->producer())) return;
    if (!declared.insert(v).second) return;
    // A Constant node's value goes as an initializer: ONNX reads the data of
    // both (Reshape's shape, Slice's starts...).
    const Node* p = v->producer();
    const Attribute* value = p != nullptr && p->IsOp("Constant") && p->attributes().size() == 1
                                 ? &p->attributes()[0]
                                 : nullptr;
    if (value != nullptr && value->name() == "value" && value->type() == onnx::AttributeProto::TENSOR &&
        (options.max_tensor_bytes < 0 ||
         value->t().ByteSizeLong() <= static_cast<size_t>(options.max_tensor_bytes))) {
      onnx::TensorProto* t = gp->add_initializer();
      *t = value->t();
      t->set_name(v->name());
      if (options.initializers_as_inputs) InputOfTensor(*t, gp->add_input());
      return;
    }
    if (v->has_initializer()) TensorToProto(*v->initializer(), v->name(), options, gp->add_initializer());
    if (v->is_sparse_initializer()) *gp->add_sparse_initializer() = *v->sparse_initializer();
    if (!v->has_initializer() || v->is_graph_input()) {
      ValueToInfo(v, gp->add_input());
    } else if (options.initializers_as_inputs) {
      InputOfTensor(gp->initializer(gp->initializer_size() - 1), gp->add_input());
    }
  };
  for (const Node* n : nodes) {
    for (const Value* in : n->inputs()) declare(in);
    // Values of `graph` that the node's subgraphs capture.
    for (Graph* sub : n->subgraphs()) {
      sub->ForEachGraph([&](Graph* g) {
        for (const auto& inner : g->nodes())
          for (const Value* in : inner->inputs()) declare(in);
        for (const Value* out : g->outputs()) declare(out);
      });
    }
    ExportNode(*n, gp->add_node(), options);
  }
  for (const Node* n : nodes) {
    for (const Value* out : n->outputs()) {
      if (out == nullptr) continue;
      if (out->IsGraphOutput()) {
        ValueToInfo(out, gp->add_output());
      } else if (out->in_value_info()) {
        ValueToInfo(out, gp->add_value_info());
      }
    }
  }
}

onnx::ModelProto ExportModel(const Model& model, const ExportOptions& options) {
  onnx::ModelProto proto = model.meta();
  ExportGraph(model.graph(), proto.mutable_graph(), options);
  return proto;
}

// ---- Streaming save.
//
// A ModelProto on disk is its non-graph fields, then field 7 (graph) holding
// the GraphProto bytes. Repeated fields may appear anywhere in a message, so
// the graph is written as: every field but the initializers (one small proto),
// then each initializer as its own field-5 entry whose raw_data is copied
// straight from the tensor's buffer. Parsing gives back the same proto.

namespace {

constexpr uint32_t kGraphTag = (7 << 3) | 2;        // ModelProto.graph
constexpr uint32_t kNodeTag = (1 << 3) | 2;         // GraphProto.node
constexpr uint32_t kValueInfoTag = (13 << 3) | 2;   // GraphProto.value_info
constexpr uint32_t kInitializerTag = (5 << 3) | 2;  // GraphProto.initializer
constexpr uint32_t kRawDataTag = (9 << 3) | 2;      // TensorProto.raw_data
constexpr int64_t kProtobufLimit = INT_MAX - (64 << 20);  // leave room for the rest

struct Entry {
  const Tensor* tensor;
  size_t head_at = 0, head_size = 0;  // serialized head (all but the streamed payload) in `heads`
  bool stream_raw = false;  // append raw bytes after head
  bool external = false;    // bytes go to the external data file
  size_t size = 0;          // serialized size of the whole entry
};

class TempFile {
 public:
  explicit TempFile(const std::string& final_path) : final_(final_path) {
    path_ = final_path + ".tmpXXXXXX";
    fd_ = ::mkstemp(path_.data());
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  absl::Status Commit() {
    if (::fsync(fd_) != 0 || ::close(fd_) != 0) {
      fd_ = -1;
      return absl::InternalError(absl::StrCat("cannot write ", final_, ": ", std::strerror(errno)));
    }
    fd_ = -1;
    ::chmod(path_.c_str(), 0644);
    if (::rename(path_.c_str(), final_.c_str()) != 0)
      return absl::InternalError(absl::StrCat("cannot rename ", path_, " to ", final_, ": ",
                                              std::strerror(errno)));
    committed_ = true;
    return absl::OkStatus();
  }

 private:
  std::string final_, path_;
  int fd_ = -1;
  bool committed_ = false;
};

absl::Status WriteAll(int fd, const char* data, size_t n, const std::string& what) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w <= 0) return absl::InternalError(absl::StrCat("cannot write ", what, ": ", std::strerror(errno)));
    data += w;
    n -= w;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SaveModel(const Model& model, const std::string& path, const SaveOptions& options) {
  const Graph& graph = model.graph();
  std::string base = path.substr(path.find_last_of('/') + 1);
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.find_last_of('/'));
  if (dir.empty()) dir = "/";
  std::string data_name = options.external_file.empty() ? base + ".data" : options.external_file;

  // Every temporary proto below lives on this arena, freed in one go.
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size = 64 << 10;
  arena_options.max_block_size = 4 << 20;
  google::protobuf::Arena arena(arena_options);
  // Decide where each initializer of the main graph goes.
  std::vector<Entry> entries;
  int64_t inline_bytes = 0;
  for (const Value* v : graph.initializers()) {
    if (!v->has_initializer()) continue;
    const Tensor& t = *v->initializer();
    Entry e;
    e.tensor = &t;
    bool raw_like = t.type() != onnx::TensorProto::STRING;
    if (options.external_threshold >= 0) {
      e.external = raw_like && static_cast<int64_t>(t.byte_size()) >= options.external_threshold;
    } else {
      e.external = t.encoding() == TensorEncoding::kExternal;
    }
    if (!e.external) inline_bytes += t.byte_size();
    entries.push_back(std::move(e));
  }
  if (inline_bytes > kProtobufLimit && options.external_threshold < 0) {
    for (Entry& e : entries) {
      if (!e.external && e.tensor->type() != onnx::TensorProto::STRING && e.tensor->byte_size() >= 1024) {
        e.external = true;
        inline_bytes -= e.tensor->byte_size();
      }
    }
  }
  if (inline_bytes > kProtobufLimit) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the model holds ", inline_bytes, " bytes of inline weights, over protobuf's 2 GB "
        "limit; save with external data (--external-data-threshold)"));
  }
  bool any_external = false;
  for (const Entry& e : entries) any_external |= e.external;
  if (any_external && options.forbid_external)
    return absl::InvalidArgumentError(absl::StrCat(path, ": the model needs external data, which was forbidden"));

  std::unique_ptr<TempFile> data_file;
  if (any_external) {
    data_file = std::make_unique<TempFile>(dir + "/" + data_name);
    if (data_file->fd() < 0)
      return absl::InternalError(absl::StrCat("cannot create ", data_file->path(), ": ", std::strerror(errno)));
  }
  int64_t data_offset = 0;
  // Heads are kept serialized, not as one live proto per tensor.
  std::string heads;
  onnx::TensorProto& head_proto = *google::protobuf::Arena::CreateMessage<onnx::TensorProto>(&arena);
  auto values = graph.initializers().begin();
  for (Entry& e : entries) {
    while (!(*values)->has_initializer()) ++values;
    const Value* v = *values++;
    const Tensor& t = *e.tensor;
    head_proto.Clear();
    onnx::TensorProto* head = &head_proto;
    head->set_name(v->name());
    if (e.external) {
      bool was_loaded = t.loaded();
      absl::Status st = t.Load();
      if (!st.ok()) return st;
      // Align each tensor to 64 bytes so runtimes can map it directly.
      int64_t pad = (64 - data_offset % 64) % 64;
      static const char zeros[64] = {};
      st = WriteAll(data_file->fd(), zeros, pad, data_file->path());
      if (st.ok()) st = WriteAll(data_file->fd(), t.raw(), t.byte_size(), data_file->path());
      if (!st.ok()) return st;
      data_offset += pad;
      t.MetadataToProto(head);
      head->set_data_location(onnx::TensorProto::EXTERNAL);
      auto add = [&](const std::string& k, const std::string& val) {
        auto* kv = head->add_external_data();
        kv->set_key(k);
        kv->set_value(val);
      };
      add("location", data_name);
      add("offset", absl::StrCat(data_offset));
      add("length", absl::StrCat(t.byte_size()));
      data_offset += t.byte_size();
      if (!was_loaded) t.Unload();
      e.size = head->ByteSizeLong();
    } else if (t.type() != onnx::TensorProto::STRING && t.encoding() != TensorEncoding::kTyped) {
      t.MetadataToProto(head);
      e.stream_raw = true;
      size_t n = t.byte_size();
      e.size = head->ByteSizeLong() + 1 + CodedOutputStream::VarintSize64(n) + n;
    } else {
      t.ToProto(head);
      e.size = head->ByteSizeLong();
    }
    e.head_at = heads.size();
    e.head_size = head->ByteSizeLong();
    heads.resize(e.head_at + e.head_size);
    head->SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(&heads[e.head_at]));
  }

  onnx::ModelProto& head = *google::protobuf::Arena::CreateMessage<onnx::ModelProto>(&arena);
  head = model.meta();
  head.clear_graph();
  // The graph minus its nodes, value_info and main initializers: one small
  // proto.
  onnx::GraphProto& rest = *google::protobuf::Arena::CreateMessage<onnx::GraphProto>(&arena);
  ExportOptions no_weights;
  no_weights.inline_external = true;  // subgraph tensors are written inline
  no_weights.skip_main_initializers = true;
  ExportGraphImpl(graph, &rest, no_weights, /*with_nodes=*/false, /*with_value_info=*/false);
  // The main graph's nodes and value_info, each serialized from one reused
  // proto as its own field-1 / field-13 entry, so no GraphProto holding them
  // all is ever built.
  std::string node_bytes;
  {
    onnx::NodeProto& np = *google::protobuf::Arena::CreateMessage<onnx::NodeProto>(&arena);
    for (const auto& n : graph.nodes()) {
      ExportNode(*n, &np, no_weights);
      AppendField(kNodeTag, np, &node_bytes);
    }
    onnx::ValueInfoProto& vi = *google::protobuf::Arena::CreateMessage<onnx::ValueInfoProto>(&arena);
    ForEachValueInfo(graph, no_weights, &vi,
                     [&](const onnx::ValueInfoProto& info) { AppendField(kValueInfoTag, info, &node_bytes); });
  }
  if (static_cast<int64_t>(node_bytes.size()) > kProtobufLimit)
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the main graph's nodes take ", node_bytes.size(), " bytes, over protobuf's 2 GB limit"));
  size_t graph_size = node_bytes.size() + rest.ByteSizeLong();
  for (const Entry& e : entries) graph_size += 1 + CodedOutputStream::VarintSize64(e.size) + e.size;

  TempFile model_file(path);
  if (model_file.fd() < 0)
    return absl::InternalError(absl::StrCat("cannot create ", model_file.path(), ": ", std::strerror(errno)));
  {
    google::protobuf::io::FileOutputStream file(model_file.fd());
    {
      CodedOutputStream out(&file);
      head.SerializeToCodedStream(&out);
      out.WriteVarint32(kGraphTag);
      out.WriteVarint64(graph_size);
      out.WriteRaw(node_bytes.data(), static_cast<int>(node_bytes.size()));
      std::string().swap(node_bytes);
      rest.SerializeWithCachedSizes(&out);
      for (const Entry& e : entries) {
        out.WriteVarint32(kInitializerTag);
        out.WriteVarint64(e.size);
        out.WriteRaw(heads.data() + e.head_at, static_cast<int>(e.head_size));
        if (e.stream_raw) {
          out.WriteVarint32(kRawDataTag);
          out.WriteVarint64(e.tensor->byte_size());
          out.WriteRaw(e.tensor->raw(), static_cast<int>(e.tensor->byte_size()));
        }
      }
      if (out.HadError()) return absl::InternalError(absl::StrCat("cannot write ", path));
    }
    if (!file.Flush()) return absl::InternalError(absl::StrCat("cannot write ", path));
    file.SetCloseOnDelete(false);
  }
  if (data_file) {
    absl::Status st = data_file->Commit();
    if (!st.ok()) return st;
  }
  return model_file.Commit();
}

}  // namespace onnxc
