// shape-inference against ONNX's shape inference run on the whole model in
// one piece (what the pass did before it typed anything itself): on every
// model of the ONNX conformance suite and on the exported real models, the
// pass must give every node output the type ONNX gives it, both with its
// in-process rules (type_rules.cc) and without them (ONNX on the nodes
// exported by ExportNodesAsGraph).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "ir/export.h"
#include "ir/import.h"
#include "onnx/defs/schema.h"
#include "onnx/shape_inference/implementation.h"
#include "passes/pass/pass_manager.h"
#include "testdata/ort_runner.h"

namespace onnxc {
namespace {

namespace fs = std::filesystem;

// Types of every node output (subgraphs too), by name, after `pipeline`.
// With `untyped`, the types the model declares for them (graph outputs
// included) are dropped first, so every node is inferred.
std::unique_ptr<Model> Load(const std::string& path, bool untyped) {
  auto model = LoadModel(path);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return nullptr;
  if (untyped) {
    (*model)->graph().ForEachGraph([&](Graph* g) {
      for (const auto& n : g->nodes())
        for (Value* v : n->outputs())
          if (v != nullptr) v->clear_type();
    });
  }
  return std::move(*model);
}

// ONNX names each unknown dimension it produces "unk__N" (N from a counter
// over the model); the rules leave them unnamed. The names are arbitrary,
// so both sides are compared with them dropped.
onnx::TypeProto WithoutInventedSymbols(onnx::TypeProto t) {
  if (t.has_tensor_type() && t.tensor_type().has_shape())
    for (auto& d : *t.mutable_tensor_type()->mutable_shape()->mutable_dim())
      if (d.has_dim_param() && d.dim_param().rfind("unk__", 0) == 0) d.clear_dim_param();
  return t;
}

bool CompleteTensorType(const onnx::TypeProto& t) {
  return t.has_tensor_type() && t.tensor_type().elem_type() != 0 && t.tensor_type().has_shape();
}

// Node outputs typed in `g` and its bodies.
void CollectInferred(const onnx::GraphProto& g, std::map<std::string, onnx::TypeProto>* types) {
  std::set<std::string> produced;
  for (const auto& n : g.node()) {
    for (const auto& out : n.output()) produced.insert(out);
    for (const auto& a : n.attribute()) {
      if (a.has_g()) CollectInferred(a.g(), types);
      for (const auto& sub : a.graphs()) CollectInferred(sub, types);
    }
  }
  for (const auto* list : {&g.value_info(), &g.output()})
    for (const auto& vi : *list)
      if (produced.count(vi.name()) && CompleteTensorType(vi.type()))
        (*types)[vi.name()] = WithoutInventedSymbols(vi.type());
}

// The reference: ONNX's shape inference on the whole exported model, here in
// the test process (the suite's models do not crash it). Values the model
// declares a type for are left out: the pass keeps declared types, where
// ONNX may rename an unknown dimension ("unk__0").
std::map<std::string, onnx::TypeProto> WholeModelOnnx(const std::string& path, bool untyped) {
  std::unique_ptr<Model> model = Load(path, untyped);
  if (model == nullptr) return {};
  ExportOptions opts;
  opts.inferred_value_info = false;
  onnx::ModelProto proto = ExportModel(*model, opts);
  onnx::ShapeInferenceOptions si;
  si.check_type = false;
  si.error_mode = 0;
  si.enable_data_propagation = false;
  try {
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(), si);
  } catch (const std::exception& e) {
    return {};  // the pass skips these too
  }
  std::map<std::string, onnx::TypeProto> types;
  CollectInferred(proto.graph(), &types);
  model->graph().ForEachGraph([&](Graph* g) {
    for (const auto& n : g->nodes())
      for (const Value* v : n->outputs())
        if (v != nullptr && v->has_type()) types.erase(v->name());
  });
  return types;
}

std::map<std::string, onnx::TypeProto> TypesAfter(const std::string& path, const std::string& pipeline,
                                                  bool untyped, std::string* notes = nullptr) {
  std::unique_ptr<Model> model = Load(path, untyped);
  if (model == nullptr) return {};
  auto pm = PassManager::Create(pipeline);
  EXPECT_TRUE(pm.ok()) << pm.status();
  absl::Status s = (*pm)->Run(*model, {});
  EXPECT_TRUE(s.ok()) << path << ": " << s;
  if (notes != nullptr)
    for (const auto& r : (*pm)->records())
      for (const auto& n : r.notes) *notes += n + "; ";
  std::map<std::string, onnx::TypeProto> types;
  model->graph().ForEachGraph([&](Graph* g) {
    for (const auto& n : g->nodes())
      for (const Value* v : n->outputs())
        if (v != nullptr && v->has_type() && CompleteTensorType(*v->type()))
          types[v->name()] = WithoutInventedSymbols(*v->type());
  });
  return types;
}

struct Comparison {
  int64_t reference = 0, same = 0, missing = 0, different = 0, extra = 0, by_rules = 0;
  std::string Summary() const {
    char buf[256];
    std::snprintf(buf, sizeof(buf), "%lld typed by ONNX: %lld the same, %lld different, %lld missing; %lld more",
                  static_cast<long long>(reference), static_cast<long long>(same),
                  static_cast<long long>(different), static_cast<long long>(missing),
                  static_cast<long long>(extra));
    return buf;
  }
};

// The pass (with `pipeline`) against the whole-model reference.
void Compare(const std::string& path, bool untyped, const std::string& pipeline,
             const std::map<std::string, onnx::TypeProto>& reference, Comparison* c) {
  std::string notes;
  auto ours = TypesAfter(path, pipeline, untyped, &notes);
  c->by_rules += std::atoll(notes.c_str());  // "N nodes typed in-process, ..."
  for (const auto& [name, t] : reference) {
    ++c->reference;
    auto it = ours.find(name);
    if (it == ours.end()) {
      ++c->missing;
      ADD_FAILURE() << pipeline << " on " << path << ": '" << name << "' not typed; ONNX: " << t.ShortDebugString();
    } else if (!google::protobuf::util::MessageDifferencer::Equivalent(t, it->second)) {
      ++c->different;
      ADD_FAILURE() << pipeline << " on " << path << ": '" << name << "': ONNX " << t.ShortDebugString()
                    << ", pass " << it->second.ShortDebugString();
    } else {
      ++c->same;
    }
  }
  for (const auto& [name, t] : ours) c->extra += !reference.count(name);
}

// Once as the models come (the suite declares its outputs' types, so mostly
// intermediate values are inferred), once with every declared node output
// type dropped, so every node is.
TEST(ShapeInference, AgreesWithOnnxOnTheConformanceSuite) {
  for (bool untyped : {false, true}) {
    Comparison rules, onnx_only;
    int models = 0;
    for (const auto& e : fs::recursive_directory_iterator("/usr/share/libonnx-testdata/data")) {
      if (e.path().filename() != "model.onnx") continue;
      ++models;
      auto reference = WholeModelOnnx(e.path().string(), untyped);
      Compare(e.path().string(), untyped, "shape-inference", reference, &rules);
      Compare(e.path().string(), untyped, "shape-inference{rules=false}", reference, &onnx_only);
    }
    std::printf("%s, %d models:\n  with the rules (%lld nodes typed in-process): %s\n  rules=false: %s\n",
                untyped ? "declared types dropped" : "as loaded", models,
                static_cast<long long>(rules.by_rules), rules.Summary().c_str(), onnx_only.Summary().c_str());
    EXPECT_EQ(models, 1072);
    for (const Comparison* c : {&rules, &onnx_only}) {
      EXPECT_EQ(c->different, 0);
      EXPECT_EQ(c->missing, 0);
    }
    EXPECT_GT(rules.reference, untyped ? 2400 : 1300);
    if (untyped) EXPECT_GT(rules.by_rules, 1500);  // the rules did most of the work
  }
}

// On real CNNs every node is typed in-process: ONNX is never called.
TEST(ShapeInference, RealModelsNeedNoOnnx) {
  for (const char* name : {"resnet18", "mobilenet_v2", "fmnist", "transformer"}) {
    std::string path = GeneratedTestdataDir() + "/" + name + "/model.onnx";
    if (!fs::exists(path)) GTEST_SKIP() << "run testdata/generate.sh";
    Comparison c;
    Compare(path, true, "shape-inference", WholeModelOnnx(path, true), &c);
    EXPECT_EQ(c.different, 0) << name;
    EXPECT_EQ(c.missing, 0) << name;
    EXPECT_GT(c.same, 10) << name;
    std::string notes;
    TypesAfter(path, "shape-inference", true, &notes);
    EXPECT_NE(notes.find(" 0 left to ONNX"), std::string::npos) << name << ": " << notes;
    std::printf("%s: %s; %s\n", name, c.Summary().c_str(), notes.c_str());
  }
}

// A Conv without kernel_shape whose weight's rank is not its input's (found
// by fuzzing) crashed libonnx 1.12's convPoolShapeInference. In this process
// (no child to contain a crash), the pass must name the node and stop.
TEST(ShapeInference, ConvWithWrongWeightRankIsAnErrorNotACrash) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("bad_conv");
  onnx::NodeProto* conv = g->add_node();
  conv->set_name("conv_rank2");
  conv->set_op_type("Conv");
  conv->add_input("x");
  conv->add_input("W");
  conv->add_output("y");
  onnx::TensorProto* w = g->add_initializer();
  w->set_name("W");
  w->set_data_type(onnx::TensorProto::FLOAT);
  for (int d : {4, 3, 3, 3}) w->add_dims(d);
  w->mutable_float_data()->Resize(4 * 3 * 3 * 3, 0.5f);
  onnx::ValueInfoProto* x = g->add_input();
  x->set_name("x");
  x->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  for (int d : {1, 3}) x->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(d);
  g->add_output()->set_name("y");
  auto model = ParseModel(m.SerializeAsString(), "");
  ASSERT_TRUE(model.ok()) << model.status();

  RunSettings settings;
  settings.isolation = Isolation::kInProcess;
  PassContext ctx;
  ctx.settings = &settings;
  auto strict = PassManager::Create("shape-inference{strict=true}");
  ASSERT_TRUE(strict.ok());
  absl::Status s = (*strict)->Run(**model, ctx);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("node 'conv_rank2' (Conv): weight 'W' has rank 4 but input 'x' has rank 2"),
            std::string::npos)
      << s;
  // Not strict: the pass skips ONNX's inference, says why, leaves y untyped.
  auto lenient = PassManager::Create("shape-inference");
  ASSERT_TRUE(lenient.ok());
  ASSERT_TRUE((*lenient)->Run(**model, ctx).ok());
  std::string notes;
  for (const auto& r : (*lenient)->records())
    for (const auto& n : r.notes) notes += n + "; ";
  EXPECT_NE(notes.find("skipped: node 'conv_rank2'"), std::string::npos) << notes;
}

}  // namespace
}  // namespace onnxc
