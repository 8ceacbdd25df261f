"""Single-operator models for timing kernels against ONNX Runtime
(kernels/bench_vs_ort.sh with MODELS="op_softmax_axis1 ..." SETS=0).

Why these: softmax over a non-innermost axis (detection and segmentation heads
normalise over the channels of an NCHW map), log-softmax likewise, softmax over
attention rows, and LayerNormalization at BERT-base width.

    usage: make_op_models.py --out DIR   (DIR/op_*/model.onnx, DIR/op_*/test_data_set_0/input_0.pb)
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CASES = {
    # name: (op, input shape, attributes)
    "op_softmax_axis1": ("Softmax", [1, 80, 80, 80], {"axis": 1}),
    "op_logsoftmax_axis1": ("LogSoftmax", [1, 80, 80, 80], {"axis": 1}),
    "op_softmax_last": ("Softmax", [1, 12, 128, 128], {"axis": -1}),
    "op_layernorm": ("LayerNormalization", [1, 512, 768], {"axis": -1, "epsilon": 1e-5}),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    out = ap.parse_args().out
    rng = np.random.default_rng(0)
    for name, (op, shape, attrs) in CASES.items():
        inits, inputs = [], ["x"]
        if op == "LayerNormalization":
            width = shape[-1]
            inits = [numpy_helper.from_array(rng.uniform(0.5, 1.5, width).astype(np.float32), "scale"),
                     numpy_helper.from_array(rng.normal(0, 0.1, width).astype(np.float32), "bias")]
            inputs += ["scale", "bias"]
        node = helper.make_node(op, inputs, ["y"], name=name, **attrs)
        graph = helper.make_graph([node], name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        d = os.path.join(out, name)
        os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
        onnx.save(model, os.path.join(d, "model.onnx"))
        x = (rng.standard_normal(shape) * 3).astype(np.float32)
        t = numpy_helper.from_array(x, "x")
        with open(os.path.join(d, "test_data_set_0", "input_0.pb"), "wb") as f:
            f.write(t.SerializeToString())
        print(f"[make_op_models] {name}: {op} {shape} {attrs}")


if __name__ == "__main__":
    main()
