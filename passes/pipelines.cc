// Named pipelines: shorthands that expand to pass lists.
#include "passes/registry.h"

namespace onnxc {
namespace {

ONNXC_REGISTER_PIPELINE(cleanup, "cleanup",
                        "structural cleanup that never changes numerics",
                        "constant-to-initializer,fixed-point(eliminate-identity,dce),shape-inference");

}  // namespace
}  // namespace onnxc
