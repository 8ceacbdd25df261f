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
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl.h"

namespace onnxc {
namespace {

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
    return;
  }
  t.ToProto(proto, options.inline_external);
}

}  // namespace

void ExportGraph(const Graph& graph, onnx::GraphProto* gp, const ExportOptions& options) {
  *gp = graph.meta();
  for (const Value* v : graph.inputs()) ValueToInfo(v, gp->add_input());
  bool skip_dense = options.skip_main_initializers && graph.parent_node() == nullptr;
  for (const Value* v : graph.initializers()) {
    if (skip_dense && v->has_initializer()) continue;
    if (v->is_sparse_initializer()) *gp->add_sparse_initializer() = *v->sparse_initializer();
    if (v->has_initializer()) TensorToProto(*v->initializer(), v->name(), options, gp->add_initializer());
  }
  for (const auto& n : graph.nodes()) {
    onnx::NodeProto* np = gp->add_node();
    for (const Value* in : n->inputs()) np->add_input(in ? in->name() : "");
    for (const Value* out : n->outputs()) np->add_output(out ? out->name() : "");
    if (!n->name().empty()) np->set_name(n->name());
    np->set_op_type(n->op_type());
    if (!n->domain().empty()) np->set_domain(n->domain());
    if (!n->doc_string().empty()) np->set_doc_string(n->doc_string());
    for (const Attribute& a : n->attributes()) {
      onnx::AttributeProto* ap = np->add_attribute();
      *ap = a.proto();
      if (a.type() == onnx::AttributeProto::GRAPH && a.graph() != nullptr) {
        ExportGraph(*a.graph(), ap->mutable_g(), options);
      } else {
        for (const auto& sub : a.graphs()) ExportGraph(*sub, ap->add_graphs(), options);
      }
    }
  }
  for (const Value* v : graph.outputs()) ValueToInfo(v, gp->add_output());
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

using google::protobuf::io::CodedOutputStream;

constexpr uint32_t kGraphTag = (7 << 3) | 2;        // ModelProto.graph
constexpr uint32_t kInitializerTag = (5 << 3) | 2;  // GraphProto.initializer
constexpr uint32_t kRawDataTag = (9 << 3) | 2;      // TensorProto.raw_data
constexpr int64_t kProtobufLimit = INT_MAX - (64 << 20);  // leave room for the rest

struct Entry {
  const Tensor* tensor;
  onnx::TensorProto head;   // everything but the streamed payload
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
  auto values = graph.initializers().begin();
  for (Entry& e : entries) {
    while (!(*values)->has_initializer()) ++values;
    const Value* v = *values++;
    const Tensor& t = *e.tensor;
    e.head.set_name(v->name());
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
      t.MetadataToProto(&e.head);
      e.head.set_data_location(onnx::TensorProto::EXTERNAL);
      auto add = [&](const std::string& k, const std::string& val) {
        auto* kv = e.head.add_external_data();
        kv->set_key(k);
        kv->set_value(val);
      };
      add("location", data_name);
      add("offset", absl::StrCat(data_offset));
      add("length", absl::StrCat(t.byte_size()));
      data_offset += t.byte_size();
      if (!was_loaded) t.Unload();
      e.size = e.head.ByteSizeLong();
    } else if (t.type() != onnx::TensorProto::STRING && t.encoding() != TensorEncoding::kTyped) {
      t.MetadataToProto(&e.head);
      e.stream_raw = true;
      size_t n = t.byte_size();
      e.size = e.head.ByteSizeLong() + 1 + CodedOutputStream::VarintSize64(n) + n;
    } else {
      t.ToProto(&e.head);
      e.size = e.head.ByteSizeLong();
    }
  }

  onnx::ModelProto head = model.meta();
  onnx::GraphProto rest;
  ExportOptions no_weights;
  no_weights.inline_external = true;  // subgraph tensors are written inline
  no_weights.skip_main_initializers = true;
  ExportGraph(graph, &rest, no_weights);
  size_t graph_size = rest.ByteSizeLong();
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
      rest.SerializeToCodedStream(&out);
      for (const Entry& e : entries) {
        out.WriteVarint32(kInitializerTag);
        out.WriteVarint64(e.size);
        e.head.SerializeToCodedStream(&out);
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
