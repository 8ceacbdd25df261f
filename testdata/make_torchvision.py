#!/usr/bin/python3
"""Export torchvision resnet18 and mobilenet_v2 to ONNX with BatchNormalization kept.

Why: these are the realistic Conv+BN graphs the compressor must fold and quantise.
Pretrained weights cannot be downloaded here, so weights are random (seeded), and
BN statistics are randomised so folding them is not a no-op (fresh BN has mean 0/var 1).
Torch's own outputs are stored as the reference (ONNX conformance-test layout).
    /usr/bin/python3 testdata/make_torchvision.py --out testdata/generated
"""
import argparse
import os

import numpy as np
import onnx
import torch
import torchvision
from onnx import numpy_helper


def randomise_bn(model):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn_like(m.running_mean) * 0.1)
                m.running_var.copy_(torch.empty_like(m.running_var).uniform_(0.5, 2.0))
                m.weight.copy_(torch.empty_like(m.weight).uniform_(0.5, 1.5))
                m.bias.copy_(torch.randn_like(m.bias) * 0.1)


def export(model, path, input_shape):
    # PRESERVE + eval() + no constant folding: the exporter emits inference-mode
    # BatchNormalization (1 output) instead of folding it into the Conv weights.
    torch.onnx.export(model, torch.zeros(input_shape), path, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      input_names=['input'], output_names=['output'],
                      dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}})
    m = onnx.load(path)
    onnx.checker.check_model(m)
    bns = [n for n in m.graph.node if n.op_type == 'BatchNormalization']
    assert bns, f'{path}: no BatchNormalization nodes survived export'
    assert all(len(n.output) == 1 for n in bns), f'{path}: training-mode BN exported'
    return len(bns)


def write_case(model, case_dir, x):
    os.makedirs(case_dir, exist_ok=True)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy()
    onnx.save_tensor(numpy_helper.from_array(x, 'input'), os.path.join(case_dir, 'input_0.pb'))
    onnx.save_tensor(numpy_helper.from_array(y, 'output'), os.path.join(case_dir, 'output_0.pb'))


def write_calibration(d, count=16):
    """calib/test_data_set_K/input_0.pb: `count` single inputs of the test inputs'
    distribution from another seed, so calibration and held-out data differ (one
    calibration image lets layer-wise methods fit that image, not the layer)."""
    rng = np.random.default_rng(2)
    for k in range(count):
        case = os.path.join(d, 'calib', f'test_data_set_{k}')
        os.makedirs(case, exist_ok=True)
        x = rng.standard_normal((1, 3, 224, 224), dtype=np.float32)
        onnx.save_tensor(numpy_helper.from_array(x, 'input'), os.path.join(case, 'input_0.pb'))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    for name, ctor in [('resnet18', torchvision.models.resnet18),
                       ('mobilenet_v2', torchvision.models.mobilenet_v2)]:
        torch.manual_seed(0)  # reseed per model so each is reproducible on its own
        model = ctor(weights=None)
        randomise_bn(model)
        model.eval()
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        n_bn = export(model, os.path.join(d, 'model.onnx'), (1, 3, 224, 224))
        rng = np.random.default_rng(0)
        for k, batch in enumerate([1, 8]):
            x = rng.standard_normal((batch, 3, 224, 224), dtype=np.float32)
            write_case(model, os.path.join(d, f'test_data_set_{k}'), x)
        write_calibration(d)
        print(f'{name}: {d}/model.onnx, {n_bn} BatchNormalization nodes')


if __name__ == '__main__':
    main()
