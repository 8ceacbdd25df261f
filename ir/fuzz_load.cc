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
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "ir/export.h"
#include "ir/import.h"
#include "ir/verifier.h"
#include "passes/pass_manager.h"

namespace {

std::string* g_model_dir = nullptr;
bool g_save = false;

void Fail(const char* what, const absl::Status& s) {
  std::fprintf(stderr, "fuzz_load: %s: %s\n", what, s.ToString().c_str());
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

  auto pm = onnxc::PassManager::Create("cleanup");
  if (!pm.ok()) Fail("cannot build the cleanup pipeline", pm.status());
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
