// The in-process type rules (type_rules.cc) against ONNX's shape inference:
// on every model of the ONNX conformance suite and on the exported real
// models, shape-inference with the rules must give every value the type ONNX
// alone gives it.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "ir/import.h"
#include "passes/pass_manager.h"
#include "testdata/ort_runner.h"

namespace onnxc {
namespace {

namespace fs = std::filesystem;

// Types of every node output (subgraphs too), by name, after `pipeline`.
// With `untyped`, the types the model declares for them (graph outputs
// included) are dropped first, so every node is inferred.
std::map<std::string, onnx::TypeProto> TypesAfter(const std::string& path, const std::string& pipeline,
                                                  bool untyped, std::string* notes = nullptr) {
  auto model = LoadModel(path);
  EXPECT_TRUE(model.ok()) << model.status();
  if (!model.ok()) return {};
  if (untyped) {
    (*model)->graph().ForEachGraph([&](Graph* g) {
      for (const auto& n : g->nodes())
        for (Value* v : n->outputs())
          if (v != nullptr) v->clear_type();
    });
  }
  auto pm = PassManager::Create(pipeline);
  EXPECT_TRUE(pm.ok()) << pm.status();
  absl::Status s = (*pm)->Run(**model, {});
  EXPECT_TRUE(s.ok()) << path << ": " << s;
  if (notes != nullptr)
    for (const auto& r : (*pm)->records())
      for (const auto& n : r.notes) *notes += n + "; ";
  std::map<std::string, onnx::TypeProto> types;
  (*model)->graph().ForEachGraph([&](Graph* g) {
    for (const auto& n : g->nodes())
      for (const Value* v : n->outputs())
        if (v != nullptr && v->has_type()) types[v->name()] = *v->type();
  });
  return types;
}

struct Comparison {
  int64_t onnx_typed = 0, both = 0, only_rules = 0, only_onnx = 0, different = 0, by_rules = 0;
};

void Compare(const std::string& path, bool untyped, Comparison* c) {
  auto onnx = TypesAfter(path, "shape-inference{rules=false}", untyped);
  std::string notes;
  auto ours = TypesAfter(path, "shape-inference", untyped, &notes);
  c->by_rules += std::atoll(notes.c_str());  // "N nodes typed in-process, ..."
  for (const auto& [name, t] : onnx) {
    ++c->onnx_typed;
    auto it = ours.find(name);
    if (it == ours.end()) {
      ++c->only_onnx;
      ADD_FAILURE() << path << ": '" << name << "' typed by ONNX only";
      continue;
    }
    ++c->both;
    if (!google::protobuf::util::MessageDifferencer::Equivalent(t, it->second)) {
      ++c->different;
      ADD_FAILURE() << path << ": '" << name << "': ONNX " << t.ShortDebugString() << ", rules "
                    << it->second.ShortDebugString();
    }
  }
  for (const auto& [name, t] : ours) c->only_rules += !onnx.count(name);
}

// Once as the models come (intermediate values only: the suite declares its
// outputs' types), once with every declared node output type dropped.
TEST(ShapeInference, RulesAgreeWithOnnxOnTheConformanceSuite) {
  for (bool untyped : {false, true}) {
    Comparison c;
    int models = 0;
    for (const auto& e : fs::recursive_directory_iterator("/usr/share/libonnx-testdata/data")) {
      if (e.path().filename() != "model.onnx") continue;
      ++models;
      Compare(e.path().string(), untyped, &c);
    }
    std::printf("%s: %d models: %lld values typed by ONNX; with the rules: %lld the same, %lld different, "
                "%lld missing; %lld typed by the rules only; %lld nodes typed in-process\n",
                untyped ? "declared types dropped" : "as loaded", models,
                static_cast<long long>(c.onnx_typed), static_cast<long long>(c.both - c.different),
                static_cast<long long>(c.different), static_cast<long long>(c.only_onnx),
                static_cast<long long>(c.only_rules), static_cast<long long>(c.by_rules));
    EXPECT_EQ(models, 1072);
    EXPECT_EQ(c.different, 0);
    EXPECT_EQ(c.only_onnx, 0);
    EXPECT_GT(c.onnx_typed, 2400);
    if (untyped) EXPECT_GT(c.by_rules, 1000);  // the rules did most of the work
  }
}

// On real CNNs every node is typed in-process: ONNX is never called.
TEST(ShapeInference, RealModelsNeedNoOnnx) {
  for (const char* name : {"resnet18", "mobilenet_v2", "fmnist"}) {
    std::string path = GeneratedTestdataDir() + "/" + name + "/model.onnx";
    if (!fs::exists(path)) GTEST_SKIP() << "run testdata/generate.sh";
    Comparison c;
    Compare(path, true, &c);
    EXPECT_EQ(c.different, 0) << name;
    EXPECT_EQ(c.only_onnx, 0) << name;
    std::string notes;
    TypesAfter(path, "shape-inference", true, &notes);
    EXPECT_NE(notes.find(" 0 left to ONNX"), std::string::npos) << name << ": " << notes;
    std::printf("%s: %lld values typed, the same as ONNX; %s\n", name, static_cast<long long>(c.both),
                notes.c_str());
  }
}

}  // namespace
}  // namespace onnxc
