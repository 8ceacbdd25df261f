#!/usr/bin/python3
"""Write a seeded random input set for any ONNX model: OUT_DIR/input_K.pb, one per graph input.

Why: third-party models come without test data; a random input is enough to check that a
tool's output still loads and runs and to diff it against onnxruntime. Each TensorProto is
named after its graph input (run.js matches by name). Defaults, per input:
  shape  the model's, with every dynamic/unknown dim set to 1
  value  float rank 4 (an image, NCHW or NHWC): uniform [0, 1); other floats: normal * 0.1
         (waveform-like); integers and bool: zeros
--input NAME=KIND[:D0,D1,...] overrides one input. KIND is uniform, randn (normal * 0.1),
zeros, or an integer/float constant such as 16000.
    /usr/bin/python3 testdata/random_inputs.py MODEL.onnx OUT_DIR [--seed 0] [--input sr=16000]
"""
import argparse
import os

import numpy as np
import onnx
from onnx import mapping, numpy_helper


def parse_override(s):
    name, spec = s.split('=', 1)
    kind, _, dims = spec.partition(':')
    shape = [int(d) for d in dims.split(',')] if dims else None
    return name, kind, shape


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('model')
    ap.add_argument('out_dir')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--input', action='append', default=[], type=parse_override)
    a = ap.parse_args()
    over = {n: (k, s) for n, k, s in a.input}
    m = onnx.load(a.model, load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    inputs = [i for i in m.graph.input if i.name not in inits]  # IR < 4 lists weights as inputs
    unknown = set(over) - {i.name for i in inputs}
    assert not unknown, f'no such input: {sorted(unknown)}'
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out_dir, exist_ok=True)
    for k, vi in enumerate(inputs):
        tt = vi.type.tensor_type
        dtype = mapping.TENSOR_TYPE_TO_NP_TYPE[tt.elem_type]  # onnx 1.12 API
        shape = [d.dim_value if d.HasField('dim_value') and d.dim_value > 0 else 1 for d in tt.shape.dim]
        kind, s = over.get(vi.name, (None, None))
        shape = s if s is not None else shape
        if kind is None:
            is_float = np.issubdtype(dtype, np.floating)
            kind = ('uniform' if len(shape) == 4 else 'randn') if is_float else 'zeros'
        if kind == 'uniform':
            x = rng.random(shape)
        elif kind == 'randn':
            x = rng.standard_normal(shape) * 0.1
        elif kind == 'zeros':
            x = np.zeros(shape)
        else:
            x = np.full(shape, float(kind))
        x = np.asarray(x).astype(dtype)
        onnx.save_tensor(numpy_helper.from_array(x, vi.name), os.path.join(a.out_dir, f'input_{k}.pb'))
        print(f'{a.out_dir}/input_{k}.pb: {vi.name} {x.dtype} {list(x.shape)} {kind}')


if __name__ == '__main__':
    main()
