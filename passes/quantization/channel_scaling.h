// Ops that commute with a positive per-channel scale, f(x / s) = f(x) / s,
// so a scale can be moved through them: equalize moves one from a conv's
// output channels to the next conv's inputs, smooth-quant moves the
// smoothing scale of a layer's input into the op that produced it.
#ifndef ONNXC_PASSES_QUANTIZATION_CHANNEL_SCALING_H_
#define ONNXC_PASSES_QUANTIZATION_CHANNEL_SCALING_H_

#include "ir/model.h"

namespace onnxc {

// Whether `n` commutes with positive scaling of the channels on axis 1
// (`channels_on_axis_1`; pooling acts on each such channel alone) or on any
// axis (pointwise ops only): Relu, LeakyRelu, PRelu with a constant slope,
// Clip(0, max), and with axis 1 MaxPool/AveragePool/GlobalAverage/MaxPool.
// Sets *finite_clip for a Clip with a finite max (ReLU6): exact only if the
// scale is 1, so callers decide.
bool CommutesWithChannelScaling(const Model& model, const Node* n, bool channels_on_axis_1, bool* finite_clip);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_CHANNEL_SCALING_H_
