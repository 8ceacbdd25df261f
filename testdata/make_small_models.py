#!/usr/bin/python3
"""Handcrafted tiny ONNX models (committed) for lossless import/export, Conv+BN fusion
edge cases and loader error paths.

Why handcrafted: exporters never produce these corner cases on demand (IR 3 graphs with
initializers as inputs, shared weights, Constant-node weights, captured outer-scope values,
functions, sparse initializers, hostile external-data paths).
Layout: NAME.onnx with numpy-computed references in NAME/test_data_set_K/{input_*,output_*}.pb
(external_data/ keeps its test_data_set_0 beside model.onnx). bad/ holds malformed models.
    /usr/bin/python3 testdata/make_small_models.py --out testdata/models
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data

F = TensorProto.FLOAT
EPS = 1e-5


# ---------- numpy reference ops (float64 for an accurate reference) ----------
def conv(x, w, b=None, pad=0, stride=1, group=1):
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, c, h, wd = x.shape
    co, cig, kh, kw = w.shape
    ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
    y = np.zeros((n, co, ho, wo))
    cog = co // group
    for g in range(group):
        xs, ws = x[:, g * cig:(g + 1) * cig], w[g * cog:(g + 1) * cog]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]
                y[:, g * cog:(g + 1) * cog] += np.einsum('nchw,oc->nohw', patch, ws[:, :, i, j])
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def conv_transpose(x, w, b, pad, stride, group, out_pad):
    n, ci, h, wd = x.shape
    cig, cog, kh, kw = w.shape[0] // group, w.shape[1], w.shape[2], w.shape[3]
    full = np.zeros((n, cog * group, (h - 1) * stride + kh + out_pad, (wd - 1) * stride + kw + out_pad))
    for g in range(group):
        xs, ws = x[:, g * cig:(g + 1) * cig], w[g * cig:(g + 1) * cig]
        for i in range(kh):
            for j in range(kw):
                full[:, g * cog:(g + 1) * cog, i:i + stride * h:stride, j:j + stride * wd:stride] += \
                    np.einsum('nchw,co->nohw', xs, ws[:, :, i, j])
    ho = stride * (h - 1) + out_pad + kh - 2 * pad
    wo = stride * (wd - 1) + out_pad + kw - 2 * pad
    return full[:, :, pad:pad + ho, pad:pad + wo] + b.reshape(1, -1, 1, 1)


def bn(x, scale, bias, mean, var):
    r = lambda v: v.reshape(1, -1, 1, 1)
    return r(scale) * (x - r(mean)) / np.sqrt(r(var) + EPS) + r(bias)


# ---------- helpers ----------
def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def bn_params(rng, c, prefix):
    """Randomised BN stats so folding is not an identity (fresh BN has mean 0, var 1)."""
    vals = [rng.uniform(0.5, 1.5, c), rng.standard_normal(c) * 0.1,
            rng.standard_normal(c) * 0.1, rng.uniform(0.5, 2.0, c)]
    names = [f'{prefix}_scale', f'{prefix}_bias', f'{prefix}_mean', f'{prefix}_var']
    return [numpy_helper.from_array(v.astype(np.float32), n) for n, v in zip(names, vals)]


def arr(t):
    return numpy_helper.to_array(t).astype(np.float64)


def vi(name, shape, elem=F):
    return helper.make_tensor_value_info(name, elem, shape)


def save(model, path, check=True, full=True):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if check:  # full_check also runs strict shape inference
        onnx.checker.check_model(model, full_check=full)
    with open(path, 'wb') as f:  # raw write: onnx.save would touch external-data fields
        f.write(model.SerializeToString())
    assert os.path.getsize(path) < 50_000, path


def save_case(case_dir, inputs, outputs):
    """inputs/outputs: lists of (name, array); written in order as input_K.pb / output_K.pb."""
    os.makedirs(case_dir, exist_ok=True)
    for kind, items in (('input', inputs), ('output', outputs)):
        for k, (name, a) in enumerate(items):
            onnx.save_tensor(numpy_helper.from_array(a, name), os.path.join(case_dir, f'{kind}_{k}.pb'))


def model(graph, opset=13, ir=None, extra_opsets=(), **kw):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)] +
                          [helper.make_opsetid(d, v) for d, v in extra_opsets], producer_name='make_small_models', **kw)
    if ir is not None:
        m.ir_version = ir
    return m


# ---------- models ----------
def conv_bn(out, rng):
    w, b = rand(rng, 4, 3, 3, 3), rand(rng, 4) * 0.1
    bnp = bn_params(rng, 4, 'bn')
    nodes = [helper.make_node('Conv', ['input', 'W', 'B'], ['conv_out'], pads=[1, 1, 1, 1], name='conv'),
             helper.make_node('BatchNormalization', ['conv_out'] + [t.name for t in bnp], ['bn_out'], epsilon=EPS, name='bn'),
             helper.make_node('Relu', ['bn_out'], ['output'], name='relu')]
    g = helper.make_graph(nodes, 'conv_bn', [vi('input', [1, 3, 8, 8])], [vi('output', [1, 4, 8, 8])],
                          [numpy_helper.from_array(w, 'W'), numpy_helper.from_array(b, 'B')] + bnp)
    save(model(g), f'{out}/conv_bn.onnx')
    x = rand(rng, 1, 3, 8, 8)
    y = np.maximum(bn(conv(x.astype(np.float64), w, b, pad=1), *map(arr, bnp)), 0)
    save_case(f'{out}/conv_bn/test_data_set_0', [('input', x)], [('output', y.astype(np.float32))])


def conv_bn_ir3(out, rng):
    # Old exporters (IR 3) listed every initializer as a graph input too.
    w = rand(rng, 4, 3, 3, 3)
    bnp = bn_params(rng, 4, 'bn')
    inits = [numpy_helper.from_array(w, 'W')] + bnp
    nodes = [helper.make_node('Conv', ['x', 'W'], ['c'], kernel_shape=[3, 3], pads=[0, 0, 0, 0]),
             helper.make_node('BatchNormalization', ['c'] + [t.name for t in bnp], ['y'], epsilon=EPS)]
    inputs = [vi('x', [1, 3, 6, 6])] + [vi(t.name, list(t.dims)) for t in inits]
    g = helper.make_graph(nodes, 'conv_bn_ir3', inputs, [vi('y', [1, 4, 4, 4])], inits)
    save(model(g, opset=7, ir=3), f'{out}/conv_bn_ir3.onnx')
    x = rand(rng, 1, 3, 6, 6)
    y = bn(conv(x.astype(np.float64), w), *map(arr, bnp))
    save_case(f'{out}/conv_bn_ir3/test_data_set_0', [('x', x)], [('y', y.astype(np.float32))])


def convtranspose_bn(out, rng):
    # ConvTranspose weight is (Cin, Cout/group, kH, kW): BN folds along axis 1 per group,
    # unlike Conv's axis 0 -- a classic fusion bug.
    cin, cout, group = 4, 6, 2
    w, b = rand(rng, cin, cout // group, 3, 3), rand(rng, cout) * 0.1
    bnp = bn_params(rng, cout, 'bn')
    nodes = [helper.make_node('ConvTranspose', ['x', 'W', 'B'], ['ct'], group=group, strides=[2, 2],
                              pads=[1, 1, 1, 1], output_padding=[1, 1], kernel_shape=[3, 3]),
             helper.make_node('BatchNormalization', ['ct'] + [t.name for t in bnp], ['y'], epsilon=EPS)]
    g = helper.make_graph(nodes, 'convtranspose_bn', [vi('x', [1, cin, 5, 5])], [vi('y', [1, cout, 10, 10])],
                          [numpy_helper.from_array(w, 'W'), numpy_helper.from_array(b, 'B')] + bnp)
    save(model(g), f'{out}/convtranspose_bn.onnx')
    x = rand(rng, 1, cin, 5, 5)
    y = bn(conv_transpose(x.astype(np.float64), w, b, pad=1, stride=2, group=group, out_pad=1), *map(arr, bnp))
    save_case(f'{out}/convtranspose_bn/test_data_set_0', [('x', x)], [('y', y.astype(np.float32))])


def shared_weight_conv_bn(out, rng):
    # Folding BN into the shared W in place would corrupt the second Conv.
    w, b = rand(rng, 4, 3, 3, 3), rand(rng, 4) * 0.1
    bnp = bn_params(rng, 4, 'bn')
    nodes = [helper.make_node('Conv', ['x', 'W', 'B'], ['c1'], pads=[1, 1, 1, 1], name='conv_with_bn'),
             helper.make_node('BatchNormalization', ['c1'] + [t.name for t in bnp], ['y_bn'], epsilon=EPS),
             helper.make_node('Conv', ['x', 'W'], ['y_plain'], pads=[1, 1, 1, 1], name='conv_plain')]
    g = helper.make_graph(nodes, 'shared_weight_conv_bn', [vi('x', [1, 3, 8, 8])],
                          [vi('y_bn', [1, 4, 8, 8]), vi('y_plain', [1, 4, 8, 8])],
                          [numpy_helper.from_array(w, 'W'), numpy_helper.from_array(b, 'B')] + bnp)
    save(model(g), f'{out}/shared_weight_conv_bn.onnx')
    x = rand(rng, 1, 3, 8, 8)
    x64 = x.astype(np.float64)
    save_case(f'{out}/shared_weight_conv_bn/test_data_set_0', [('x', x)],
              [('y_bn', bn(conv(x64, w, b, pad=1), *map(arr, bnp)).astype(np.float32)),
               ('y_plain', conv(x64, w, pad=1).astype(np.float32))])


def constant_node_weights(out, rng):
    # PaddleOCR-style: weights are Constant node outputs, not initializers.
    w, b = rand(rng, 4, 3, 3, 3), rand(rng, 4) * 0.1
    bnp = bn_params(rng, 4, 'bn')
    nodes = [helper.make_node('Constant', [], ['W'], value=numpy_helper.from_array(w, 'W_value')),
             helper.make_node('Constant', [], ['B'], value=numpy_helper.from_array(b, 'B_value')),
             helper.make_node('Conv', ['x', 'W', 'B'], ['c'], pads=[1, 1, 1, 1]),
             helper.make_node('BatchNormalization', ['c'] + [t.name for t in bnp], ['y'], epsilon=EPS)]
    g = helper.make_graph(nodes, 'constant_node_weights', [vi('x', [1, 3, 8, 8])], [vi('y', [1, 4, 8, 8])], bnp)
    save(model(g), f'{out}/constant_node_weights.onnx')
    x = rand(rng, 1, 3, 8, 8)
    y = bn(conv(x.astype(np.float64), w, b, pad=1), *map(arr, bnp))
    save_case(f'{out}/constant_node_weights/test_data_set_0', [('x', x)], [('y', y.astype(np.float32))])


def if_subgraph(out, rng):
    # Branches capture outer-scope 'x', 'W', 'k' by name; a pass that renames or removes
    # outer values must see these uses. The then-branch has its own BN initializers.
    w, k = rand(rng, 3, 3, 3, 3), np.float32(1.5)
    bnp = bn_params(rng, 3, 'then_bn')
    then_g = helper.make_graph(
        [helper.make_node('Conv', ['x', 'W'], ['then_c'], pads=[1, 1, 1, 1]),
         helper.make_node('BatchNormalization', ['then_c'] + [t.name for t in bnp], ['then_y'], epsilon=EPS)],
        'then_branch', [], [vi('then_y', [1, 3, 6, 6])], bnp)
    else_g = helper.make_graph([helper.make_node('Mul', ['x', 'k'], ['else_y'])],
                               'else_branch', [], [vi('else_y', [1, 3, 6, 6])])
    g = helper.make_graph([helper.make_node('If', ['cond'], ['y'], then_branch=then_g, else_branch=else_g)],
                          'if_subgraph', [vi('cond', [], TensorProto.BOOL), vi('x', [1, 3, 6, 6])],
                          [vi('y', [1, 3, 6, 6])],
                          [numpy_helper.from_array(w, 'W'), numpy_helper.from_array(np.array(k), 'k')])
    save(model(g), f'{out}/if_subgraph.onnx')
    x = rand(rng, 1, 3, 6, 6)
    y_then = bn(conv(x.astype(np.float64), w, pad=1), *map(arr, bnp))
    for i, (c, y) in enumerate([(True, y_then), (False, x.astype(np.float64) * k)]):
        save_case(f'{out}/if_subgraph/test_data_set_{i}', [('cond', np.array(c)), ('x', x)],
                  [('y', y.astype(np.float32))])


def loop_subgraph(out, rng):
    # v <- v + delta, M times; 'delta' is an outer-scope initializer used inside the body.
    delta = rand(rng, 2, 3)
    body = helper.make_graph(
        [helper.make_node('Identity', ['cond_in'], ['cond_out']),
         helper.make_node('Add', ['v_in', 'delta'], ['v_out']),
         helper.make_node('Identity', ['v_out'], ['scan_out'])],
        'loop_body', [vi('iter', [], TensorProto.INT64), vi('cond_in', [], TensorProto.BOOL), vi('v_in', [2, 3])],
        [vi('cond_out', [], TensorProto.BOOL), vi('v_out', [2, 3]), vi('scan_out', [2, 3])])
    g = helper.make_graph(
        [helper.make_node('Loop', ['M', 'cond', 'v0'], ['v_final', 'v_all'], body=body)],
        'loop_subgraph', [vi('M', [], TensorProto.INT64), vi('v0', [2, 3])],
        [vi('v_final', [2, 3]), vi('v_all', ['M', 2, 3])],
        [numpy_helper.from_array(delta, 'delta'), numpy_helper.from_array(np.array(True), 'cond')])
    save(model(g), f'{out}/loop_subgraph.onnx')
    m, v0 = 3, rand(rng, 2, 3)
    steps = [v0.astype(np.float64) + delta * (i + 1) for i in range(m)]
    save_case(f'{out}/loop_subgraph/test_data_set_0', [('M', np.array(m, np.int64)), ('v0', v0)],
              [('v_final', steps[-1].astype(np.float32)), ('v_all', np.stack(steps).astype(np.float32))])


def metadata_functions(out, rng):
    # Everything a lossless round trip must keep. No reference outputs: 'com.unknown'
    # has no implementation anywhere, by design.
    # Function with an attribute reference: C = A*B*alpha + A.
    alpha_ref = onnx.AttributeProto(name='value_float', ref_attr_name='alpha', type=onnx.AttributeProto.FLOAT)
    alpha_node = helper.make_node('Constant', [], ['alpha_t'])
    alpha_node.attribute.append(alpha_ref)
    fn = helper.make_function(
        'com.example', 'MulAdd', ['A', 'B'], ['C'],
        [alpha_node, helper.make_node('Mul', ['A', 'B'], ['AB']), helper.make_node('Mul', ['AB', 'alpha_t'], ['ABa']),
         helper.make_node('Add', ['ABa', 'A'], ['C'])],
        [helper.make_opsetid('', 17)], attributes=['alpha'])
    fn.doc_string = 'C = A*B*alpha + A'
    dense = np.zeros((1, 3, 4, 4), np.float32)
    idx = np.array([0, 5, 17, 40], np.int64)
    dense.flat[idx] = [1.0, -2.0, 3.0, 0.5]
    sparse = helper.make_sparse_tensor(numpy_helper.from_array(dense.flat[idx].copy(), 'sparse_w'),
                                       numpy_helper.from_array(idx, 'sparse_w_indices'), [1, 3, 4, 4])
    tensor_attr = numpy_helper.from_array(rand(rng, 2, 2), 'attr_tensor')
    nodes = [
        helper.make_node('Constant', [], ['c'], value=numpy_helper.from_array(np.array([0.5], np.float32), 'c_value'),
                         name='const', doc_string='a Constant node'),
        helper.make_node('MulAdd', ['x', 'c'], ['t1'], domain='com.example', name='fn_call', alpha=2.0,
                         doc_string='calls the model-local function'),
        helper.make_node('Add', ['t1', 'sparse_w'], ['t2'], name='add_sparse'),
        helper.make_node('Mystery', ['t2'], ['y'], domain='com.unknown', name='unknown_op',
                         doc_string='op with no schema anywhere', f=1.5, i=7, s='hello', floats=[1.0, 2.5],
                         ints=[1, -2, 3], strings=['a', 'b'], t=tensor_attr),
    ]
    g = helper.make_graph(nodes, 'metadata_functions', [vi('x', [1, 3, 4, 4])], [vi('y', ['N', 3, 4, 4])],
                          doc_string='graph doc_string', value_info=[vi('t1', [1, 3, 4, 4]), vi('t2', [1, 3, 4, 4])],
                          sparse_initializer=[sparse])
    m = model(g, opset=17, extra_opsets=[('com.example', 1), ('com.unknown', 1)], functions=[fn],
              doc_string='model doc_string', producer_version='1.0', domain='org.example.testdata', model_version=42)
    helper.set_model_props(m, {'author': 'testdata', 'license': 'MIT', 'empty': ''})
    # No full_check: onnx's shape inference types a sparse_initializer as sparse_tensor and
    # rejects it as an Add input, though runtimes (onnxruntime) densify it.
    save(m, f'{out}/metadata_functions.onnx', full=False)


def external_data(out, rng):
    w, b = rand(rng, 4, 3, 3, 3), rand(rng, 4) * 0.1
    g = helper.make_graph([helper.make_node('Conv', ['x', 'W', 'B'], ['y'], pads=[1, 1, 1, 1])], 'external_data',
                          [vi('x', [1, 3, 8, 8])], [vi('y', [1, 4, 8, 8])],
                          [numpy_helper.from_array(w, 'W'), numpy_helper.from_array(b, 'B')])
    m = model(g)
    onnx.checker.check_model(m)
    d = f'{out}/external_data'
    os.makedirs(d, exist_ok=True)
    onnx.save(m, f'{d}/model.onnx', save_as_external_data=True, all_tensors_to_one_file=True,
              location='weights.bin', size_threshold=0)
    onnx.checker.check_model(f'{d}/model.onnx')  # path form resolves the external file
    x = rand(rng, 1, 3, 8, 8)
    save_case(f'{d}/test_data_set_0', [('x', x)], [('y', conv(x.astype(np.float64), w, b, pad=1).astype(np.float32))])


def bad_models(out, rng):
    d = f'{out}/bad'
    with open(f'{out}/conv_bn.onnx', 'rb') as f:
        data = f.read()
    os.makedirs(d, exist_ok=True)
    with open(f'{d}/truncated.onnx', 'wb') as f:
        f.write(data[:len(data) // 2])

    def small(nodes, name, inits=()):
        return model(helper.make_graph(nodes, name, [vi('x', [1, 4])], [vi('y', [1, 4])], list(inits)))

    save(small([helper.make_node('Add', ['x', 'nowhere'], ['y'])], 'dangling_input'), f'{d}/dangling_input.onnx', check=False)
    save(small([helper.make_node('Add', ['x', 'b'], ['a'], name='n1'), helper.make_node('Relu', ['a'], ['b'], name='n2'),
                helper.make_node('Identity', ['a'], ['y'])], 'cycle'), f'{d}/cycle.onnx', check=False)
    save(small([helper.make_node('Relu', ['x'], ['y'], name='n1'), helper.make_node('Neg', ['x'], ['y'], name='n2')],
               'duplicate_names'), f'{d}/duplicate_names.onnx', check=False)
    # External-data tensors pointing at a missing file, outside the model dir, and absolute.
    for sub, loc in [('missing_external', 'weights.bin'), ('escaping_external', '../../etc/passwd'),
                     ('absolute_external', '/etc/passwd')]:
        w = numpy_helper.from_array(np.zeros((1, 4), np.float32), 'w')
        set_external_data(w, location=loc, offset=0, length=16)  # needs raw_data present...
        w.ClearField('raw_data')  # ...which then must go: the bytes live "elsewhere"
        save(small([helper.make_node('Add', ['x', 'w'], ['y'])], sub, [w]), f'{d}/{sub}/model.onnx', check=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    out = ap.parse_args().out
    for i, fn in enumerate([conv_bn, conv_bn_ir3, convtranspose_bn, shared_weight_conv_bn, constant_node_weights,
                            if_subgraph, loop_subgraph, metadata_functions, external_data, bad_models]):
        fn(out, np.random.default_rng(i))  # one seed per model: adding a model leaves others unchanged
        print(f'{fn.__name__}: ok')


if __name__ == '__main__':
    main()
