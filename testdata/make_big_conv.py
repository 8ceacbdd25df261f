"""One 2048x2048x5x5 convolution (AMCT's slowest documented decomposition:
430 s, about 32 GB), with weights of a decaying spectrum, for timing
`decompose` (testdata/decompose_bench.sh).  usage: make_big_conv.py OUT.onnx"""
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

rng = np.random.default_rng(0)
n = c = 2048
k = 5
# Low-rank-ish weights: a random product plus noise, as trained convs look.
w = (rng.standard_normal((n, 256)).astype(np.float32) @ rng.standard_normal((256, c * k * k)).astype(np.float32)) / 256
w += 0.05 * rng.standard_normal((n, c * k * k)).astype(np.float32)
w = w.reshape(n, c, k, k).astype(np.float32)
node = helper.make_node("Conv", ["x", "w"], ["y"], name="big", pads=[2, 2, 2, 2])
graph = helper.make_graph([node], "big_conv",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 14, 14])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n, 14, 14])],
                          [numpy_helper.from_array(w, "w")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
onnx.save(model, sys.argv[1])
