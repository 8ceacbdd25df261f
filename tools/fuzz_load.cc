// libFuzzer target for the model loader and what runs right after it:
//
//   ParseModel(bytes) -> VerifyModel -> ExportModel -> PassManager("cleanup")
//
// Errors are fine; crashes, aborts, hangs, leaks and sanitizer reports are
// bugs. Built outside Bazel with clang (tools/fuzz.sh), because Bazel's
// toolchain here is gcc.
//
// Environment:
//   ONNXC_FUZZ_MODEL_DIR  folder external data resolves against (default: a
//                         fresh empty temporary folder, so inputs can never
//                         read files of the current directory).
//   ONNXC_FUZZ_SAVE=1     also SaveModel each model that survived the pipeline
//                         into ONNXC_FUZZ_MODEL_DIR/out and LoadModel it back;
//                         a saved model that does not load again is a bug.
//   ONNXC_FUZZ_PIPELINE   pipeline to run instead of "cleanup".
//   ONNXC_FUZZ_PREVERIFY=1  skip the pipeline when a node fails its ONNX schema
//                         (OpSchema::Verify). libonnx's inference functions
//                         assume verified nodes (e.g. Scan-8 dereferences a
//                         missing required attribute), so this is what the
//                         shape-inference pass would have to do first.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/escaping.h"
#include "ir/export.h"
#include "onnx/defs/schema.h"
#include "ir/import.h"
#include "ir/verifier.h"
#include "passes/pass/pass_manager.h"

namespace {

std::string* g_model_dir = nullptr;
bool g_save = false;
bool g_preverify = false;
std::string* g_pipeline = nullptr;

// True if every node (subgraphs included) passes its schema's Verify.
// Nodes without a known schema are left to the pass.
bool NodesVerify(const onnx::GraphProto& g, const onnx::ModelProto& m) {
  for (const onnx::NodeProto& n : g.node()) {
    std::string domain = n.domain() == "ai.onnx" ? "" : n.domain();
    int version = -1;
    for (const auto& op : m.opset_import())
      if ((op.domain() == "ai.onnx" ? "" : op.domain()) == domain) version = static_cast<int>(op.version());
    if (version >= 0) {
      const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(n.op_type(), version, domain);
      if (schema != nullptr) {
        try {
          schema->Verify(n);
        } catch (const std::exception&) {
          return false;
        }
      }
    }
    for (const auto& a : n.attribute()) {
      if (a.has_g() && !NodesVerify(a.g(), m)) return false;
      for (const auto& sub : a.graphs())
        if (!NodesVerify(sub, m)) return false;
    }
  }
  return true;
}

void Fail(const char* what, const absl::Status& s) {
  // Escaped: fuzzed names hold newlines and NULs.
  std::fprintf(stderr, "fuzz_load: %s: %s\n", what, absl::CHexEscape(s.ToString()).c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("ONNXC_FUZZ_MODEL_DIR");
  if (dir != nullptr && *dir != '\0') {
    g_model_dir = new std::string(dir);
  } else {
    char tmpl[] = "/tmp/onnxc_fuzz_XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    g_model_dir = new std::string(made != nullptr ? made : "/nonexistent");
  }
  const char* save = std::getenv("ONNXC_FUZZ_SAVE");
  g_save = save != nullptr && std::string(save) == "1";
  const char* pre = std::getenv("ONNXC_FUZZ_PREVERIFY");
  g_preverify = pre != nullptr && std::string(pre) == "1";
  const char* pipeline = std::getenv("ONNXC_FUZZ_PIPELINE");
  g_pipeline = new std::string(pipeline != nullptr && *pipeline != '\0' ? pipeline : "cleanup");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  auto model = onnxc::ParseModel(bytes, *g_model_dir);
  if (!model.ok()) return 0;

  // A model the importer accepted must satisfy the IR's own invariants.
  absl::Status verified = onnxc::VerifyModel(**model);
  if (!verified.ok()) Fail("VerifyModel rejected a model ParseModel accepted", verified);

  onnx::ModelProto exported = onnxc::ExportModel(**model);
  (void)exported.ByteSizeLong();

  if (g_preverify && !NodesVerify(exported.graph(), exported)) return 0;

  auto pm = onnxc::PassManager::Create(*g_pipeline);
  if (!pm.ok()) Fail("cannot build the pipeline", pm.status());
  onnxc::PassContext ctx;
  absl::Status ran = (*pm)->Run(**model, ctx);
  if (!ran.ok()) return 0;  // a pass may refuse a model; it must not crash

  // Passes must leave a well-formed IR behind.
  verified = onnxc::VerifyModel(**model);
  if (!verified.ok()) Fail("VerifyModel failed after cleanup", verified);
  exported = onnxc::ExportModel(**model);
  (void)exported.ByteSizeLong();

  if (g_save) {
    std::string out = *g_model_dir + "/out";
    ::mkdir(out.c_str(), 0755);
    std::string path = out + "/model.onnx";
    absl::Status saved = onnxc::SaveModel(**model, path);
    if (saved.ok()) {
      auto again = onnxc::LoadModel(path);
      if (!again.ok()) Fail("a model SaveModel wrote does not load", again.status());
    }
  }
  return 0;
}
