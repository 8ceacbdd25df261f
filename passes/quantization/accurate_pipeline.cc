// The `accurate` named pipeline: what to try when the default W8A8 loses too
// much. It chains what measured as helping (README "Quantization", table
// "default vs accurate", testdata/accurate_report.sh): MSE activation ranges,
// AdaRound (which refits the biases of the layers it re-rounds) and bias
// correction for the rest (depthwise convs). Better than the default on 5 of
// 6 test models, by 16 dB on mobilenet_v2; equal on the log-mel classifier,
// where AdaRound costs what MSE ranges gain.
#include "passes/pass/registry.h"

namespace onnxc {
namespace {

ONNXC_REGISTER_PIPELINE(accurate, "accurate",
                        "optimize, then W8A8 with MSE activation ranges, AdaRound and bias correction: try it when the "
                        "default loses too much (better on 5 of the 6 models measured)",
                        "optimize,quantize{method=mse,weight-method=adaround,bias-correction=true}");

}  // namespace
}  // namespace onnxc
