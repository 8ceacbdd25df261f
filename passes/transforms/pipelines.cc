// Named pipelines: shorthands that expand to pass lists.
#include "passes/pass/registry.h"

namespace onnxc {
namespace {

ONNXC_REGISTER_PIPELINE(eliminate_identity, "eliminate-identity",
                        "removes Identity nodes, keeping graph output names",
                        "eliminate-noops{ops=[Identity]}");

// Identity and dead nodes go before shape inference, which costs ~4 us per
// node in ONNX; Cast/Reshape no-ops need the inferred types, so the cleanup
// runs again after it.
ONNXC_REGISTER_PIPELINE(cleanup, "cleanup",
                        "structural cleanup that never changes numerics",
                        "constant-to-initializer,fixed-point(eliminate-noops,dce),shape-inference,"
                        "fixed-point(eliminate-noops,dce)");

ONNXC_REGISTER_PIPELINE(optimize, "optimize",
                        "the default graph optimisation: cleanup plus fusions, until nothing changes",
                        "constant-to-initializer,fixed-point(eliminate-noops,dce),shape-inference,"
                        "fixed-point(eliminate-noops,fold-constants,fuse-conv-bn,fuse-conv-add-mul,cse,dce)");

}  // namespace
}  // namespace onnxc
