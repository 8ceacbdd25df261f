// The `accurate` named pipeline: what to try when the default W8A8 loses too
// much. It adds what measured as helping on most test models (README
// "Quantization", table "default vs accurate", testdata/accurate_report.sh):
// bias correction and MSE activation ranges; better on 5 of 6 models, worse
// on the efficientnet (MSE clips its SiLU tails). The other accuracy methods
// join it as they land.
#include "passes/pass/registry.h"

namespace onnxc {
namespace {

ONNXC_REGISTER_PIPELINE(accurate, "accurate",
                        "optimize, then W8A8 with MSE activation ranges and bias correction: try it when the default "
                        "loses too much (better on 5 of the 6 models measured)",
                        "optimize,quantize{method=mse,bias-correction=true}");

}  // namespace
}  // namespace onnxc
