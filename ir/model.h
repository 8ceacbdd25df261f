// Model: the main graph plus every model-level field of the ONNX ModelProto
// (ir_version, opset imports, producer, metadata, model-local functions,
// training info), kept verbatim so export is lossless.
#ifndef ONNXC_IR_MODEL_H_
#define ONNXC_IR_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "ir/graph.h"
#include "onnx/onnx_pb.h"

namespace onnxc {

class Model {
 public:
  Model();

  Graph& graph() { return *graph_; }
  const Graph& graph() const { return *graph_; }
  // The ModelProto without its graph.
  const onnx::ModelProto& meta() const { return meta_; }
  onnx::ModelProto* mutable_meta() { return &meta_; }

  int64_t ir_version() const { return meta_.ir_version(); }
  // Opset version imported for `domain` ("" or "ai.onnx" for the default
  // domain), or -1 if the model does not import it.
  int64_t OpsetVersion(const std::string& domain = "") const;
  void SetOpsetVersion(const std::string& domain, int64_t version);

  // Folder the model was loaded from; external data paths resolve there.
  const std::string& dir() const { return dir_; }
  void set_dir(std::string d) { dir_ = std::move(d); }
  // File the model was loaded from, for messages ("" if built in memory).
  const std::string& path() const { return path_; }
  void set_path(std::string p) { path_ = std::move(p); }

  std::unique_ptr<Model> Clone() const;
  // Exchanges everything with `other` (a pass that rebuilds a model, such
  // as upgrade-opset, swaps the rebuilt one in).
  void Swap(Model& other);

 private:
  onnx::ModelProto meta_;
  std::unique_ptr<Graph> graph_;
  std::string dir_, path_;
};

}  // namespace onnxc

#endif  // ONNXC_IR_MODEL_H_
