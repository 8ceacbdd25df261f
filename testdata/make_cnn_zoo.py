#!/usr/bin/python3
"""Export torchvision shufflenet_v2_x1_0, regnet_x_400mf and efficientnet_b0 with BN kept.

Why: three CNN families the resnet/mobilenet pair does not cover: channel shuffle
(Reshape/Transpose between convs, Split/Concat), grouped 3x3 convs (RegNet), and SiLU,
squeeze-excite (GlobalAveragePool -> Conv -> Sigmoid -> Mul) and depthwise 5x5 (EfficientNet).
Weights are random (nothing can be downloaded), and a random network with made-up BN
statistics is numerically degenerate: activations explode or die out with depth, so the
outputs say nothing about the accuracy of a rewrite. Instead each BatchNorm's running
statistics are measured on the activations it really sees (one forward pass, in graph
order), then perturbed, and gamma/beta randomised: every BN output then has a per-channel
scale of about gamma (0.5..1.5), folding it changes the weights, and variance stays
roughly constant through the network. Each Conv is first rescaled to unit-std output and
the classifier to unit-std logits.
    /usr/bin/python3 testdata/make_cnn_zoo.py --out testdata/generated
"""
import argparse
import os

import numpy as np
import onnx
import torch
import torchvision
from onnx import numpy_helper

from make_torchvision import write_calibration  # the same calib/ layout and seed

MODELS = [('shufflenet_v2', torchvision.models.shufflenet_v2_x1_0),
          ('regnet_x_400mf', torchvision.models.regnet_x_400mf),
          ('efficientnet_b0', torchvision.models.efficientnet_b0)]


def calibrate(model, x):
    """One forward pass, in graph order: every Conv is rescaled to unit-std output and
    every BN's running stats are set from the input it really sees.

    Hooks run as the pass reaches each layer, so a layer is always calibrated against the
    final (already calibrated) upstream network. Conv rescaling (LSUV-style) matters because
    torchvision's kaiming fan_out init makes e.g. a 1152-channel depthwise 5x5 output ~0.04."""
    gen = torch.Generator().manual_seed(1)

    def conv_hook(conv, inputs, out):
        s = out.std()
        conv.weight.div_(s)
        if conv.bias is not None:
            conv.bias.div_(s)
        return out / s  # what the rescaled conv now computes

    def bn_hook(bn, inputs):
        a = inputs[0]
        mean = a.mean(dim=(0, 2, 3))
        var = a.var(dim=(0, 2, 3)) + 1e-3  # + eps: channels ReLU killed on this batch
        n = mean.numel()
        rnd = lambda: torch.rand(n, generator=gen)
        # Off by a little from the truth so that the BN is not an exact normaliser.
        bn.running_mean.copy_(mean + 0.2 * var.sqrt() * (rnd() - 0.5))
        bn.running_var.copy_(var * (0.7 + 0.6 * rnd()))
        bn.weight.copy_(0.5 + rnd())
        bn.bias.copy_(0.2 * (rnd() - 0.5))

    hs = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            hs.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.BatchNorm2d):
            hs.append(m.register_forward_pre_hook(bn_hook))
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()


def rescale_classifier(model, x):
    fc = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        s = model(x).std()
        fc.weight.div_(s)
        fc.bias.div_(s)


def activation_ranges(model, x):
    """(name, std, max|a|) of every leaf module's output."""
    stats = []

    def hook(m, inputs, out):
        stats.append((names[m], float(out.std()), float(out.abs().max())))

    names = {m: n for n, m in model.named_modules()}
    hs = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    with torch.no_grad():
        y = model(x)
    for h in hs:
        h.remove()
    return y, stats


def check_sane(name, model, x):
    y, stats = activation_ranges(model, x)
    assert torch.isfinite(y).all(), f'{name}: non-finite output'
    assert float(y.std(dim=0).min()) > 1e-3, f'{name}: some logits do not depend on the input'
    lo = min(stats, key=lambda t: t[1])
    wide = max(stats, key=lambda t: t[1])
    hi = max(stats, key=lambda t: t[2])
    print(f'{name}: activation std {lo[1]:.3g} ({lo[0]}) .. {wide[1]:.3g} ({wide[0]}), '
          f'max|a| {hi[2]:.3g} ({hi[0]}); logits std {float(y.std()):.3g}')
    assert lo[1] > 1e-2 and hi[2] < 1e3, f'{name}: activations out of range'


def export(model, path):
    # Same recipe as make_torchvision.py: PRESERVE + eval() + no constant folding keeps
    # inference-mode BatchNormalization nodes instead of folding them into the convs.
    torch.onnx.export(model, torch.zeros(1, 3, 224, 224), path, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      input_names=['input'], output_names=['output'],
                      dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}})
    m = onnx.load(path)
    onnx.checker.check_model(m)
    bns = [n for n in m.graph.node if n.op_type == 'BatchNormalization']
    n_bn = sum(isinstance(x, torch.nn.BatchNorm2d) for x in model.modules())
    assert len(bns) == n_bn and all(len(n.output) == 1 for n in bns), f'{path}: BN not preserved'
    return m


def write_case(model, case_dir, x):
    os.makedirs(case_dir, exist_ok=True)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy()
    onnx.save_tensor(numpy_helper.from_array(x, 'input'), os.path.join(case_dir, 'input_0.pb'))
    onnx.save_tensor(numpy_helper.from_array(y, 'output'), os.path.join(case_dir, 'output_0.pb'))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)  # a compiler shares the 2 cores: a second OpenMP thread mostly spins
    for name, ctor in MODELS:
        torch.manual_seed(0)  # reseed per model so each is reproducible on its own
        model = ctor(weights=None).eval()
        # Calibration input: the same distribution as the test inputs, a different seed.
        xc = torch.from_numpy(np.random.default_rng(1).standard_normal((8, 3, 224, 224), dtype=np.float32))
        calibrate(model, xc)
        rescale_classifier(model, xc)
        rng = np.random.default_rng(0)
        xs = [rng.standard_normal((b, 3, 224, 224), dtype=np.float32) for b in (1, 8)]
        check_sane(name, model, torch.from_numpy(xs[1]))
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        m = export(model, os.path.join(d, 'model.onnx'))
        for k, x in enumerate(xs):
            write_case(model, os.path.join(d, f'test_data_set_{k}'), x)
        write_calibration(d)
        ops = {}
        for n in m.graph.node:
            ops[n.op_type] = ops.get(n.op_type, 0) + 1
        print(f'{name}: {d}/model.onnx, {len(m.graph.node)} nodes {dict(sorted(ops.items(), key=lambda t: -t[1]))}')


if __name__ == '__main__':
    main()
