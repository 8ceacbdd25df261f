#!/usr/bin/python3
"""A small BatchNorm CNN trained on the real Fashion-MNIST, exported to ONNX.

The weights come from trained/fmnist.npz, which this script's training made
(--retrain trains again, in about 30 s, --save-weights keeps the result).

Why: random-weight models cannot show accuracy loss from quantisation/compression.
This gives a real trained model (BN kept in the graph for the fusion pass), a
calibration set, and a labelled test set so tools can report top-1 vs. float.
Data comes from Debian's dataset-fashion-mnist package (no downloads possible here).
    /usr/bin/python3 testdata/fashion_mnist.py --out testdata/generated [--retrain]
"""
import argparse
import gzip
import os
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

DATA = '/usr/share/datasets/fashion-mnist'
# Trained weights as shipped (state_dict names -> arrays). torch's training is
# seeded but not bit-identical across CPUs (its conv and BLAS kernels dispatch
# on the ISA), and a different training run moves every quantization figure
# by several dB; loading these keeps the tests' and README's figures those of
# one model on every machine. --retrain trains afresh (--save-weights FILE).
TRAINED = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'trained')
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training-set pixel mean/std (pixels in [0,1])


def load_idx(name, offset):
    with gzip.open(os.path.join(DATA, name), 'rb') as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def load(split):
    x = load_idx(f'{split}-images-idx3-ubyte.gz', 16).reshape(-1, 1, 28, 28)
    y = load_idx(f'{split}-labels-idx1-ubyte.gz', 8).astype(np.int64)
    return ((x.astype(np.float32) / 255.0 - MEAN) / STD).astype(np.float32), y


def block(cin, cout, pool):
    layers = [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
    return layers + ([nn.MaxPool2d(2)] if pool else [])


def make_model():
    return nn.Sequential(*block(1, 16, True), *block(16, 32, True), *block(32, 64, False),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 10))


def load_weights(model, path):
    """Loads a shipped .npz of state_dict arrays into `model` (all but BN's step counters)."""
    with np.load(path) as z:
        state = {k: torch.from_numpy(z[k].copy()) for k in z.files}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith('num_batches_tracked') for k in missing), (path, missing, unexpected)


def save_weights(model, path):
    state = {k: v.detach().numpy() for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked')}
    np.savez_compressed(path, **state)


def add_weight_args(ap, name):
    ap.add_argument('--retrain', action='store_true', help=f'train instead of loading trained/{name}.npz')
    ap.add_argument('--save-weights', help='write the (re)trained weights here as .npz')


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(torch.from_numpy(x[i:i + 1000])).argmax(1) for i in range(0, len(x), 1000)])
    return float((pred.numpy() == y).mean())


def save_case(d, x, y=None):
    os.makedirs(d, exist_ok=True)
    onnx.save_tensor(numpy_helper.from_array(x, 'input'), os.path.join(d, 'input_0.pb'))
    if y is not None:
        onnx.save_tensor(numpy_helper.from_array(y, 'logits'), os.path.join(d, 'output_0.pb'))


def train(model, xtr, ytr, epochs):
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    bs = 128
    steps = epochs * ((len(xtr) + bs - 1) // bs)
    # One-cycle LR gets a 2-epoch run to ~90% where constant LR plateaus lower.
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=5e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(0)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), bs):
            idx = perm[i:i + bs]
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f'epoch {epoch + 1}: loss={loss.item():.3f} elapsed={time.time() - t0:.1f}s', flush=True)
    print(f'training {time.time() - t0:.1f}s')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--epochs', type=int, default=2)
    add_weight_args(ap, 'fmnist')
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    xtr, ytr = load('train')
    xte, yte = load('t10k')

    model = make_model()
    shipped = os.path.join(TRAINED, 'fmnist.npz')
    if a.retrain:
        train(model, xtr, ytr, a.epochs)
    else:
        load_weights(model, shipped)
        print(f'weights from {shipped} (--retrain to train)')
    if a.save_weights:
        save_weights(model, a.save_weights)
    top1 = accuracy(model, xte, yte)
    print(f'float test top-1 {top1:.4f}')
    model.eval()

    d = os.path.join(a.out, 'fmnist')
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, 'model.onnx')
    # Same recipe as make_torchvision.py: keeps inference-mode BatchNormalization nodes.
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
    m = onnx.load(path)
    onnx.checker.check_model(m)
    bns = [n for n in m.graph.node if n.op_type == 'BatchNormalization']
    assert len(bns) == 3 and all(len(n.output) == 1 for n in bns), 'BN not preserved'

    # Calibration: 8 batches x 32 seeded-random training images.
    calib = np.random.default_rng(0).choice(len(xtr), 256, replace=False)
    for k in range(8):
        save_case(os.path.join(d, 'calib', f'test_data_set_{k}'), xtr[calib[32 * k:32 * (k + 1)]])
    np.save(os.path.join(d, 'test_images.npy'), xte)
    np.save(os.path.join(d, 'test_labels.npy'), yte)
    with torch.no_grad():
        ref = model(torch.from_numpy(xte[:16])).numpy()
    save_case(os.path.join(d, 'test_data_set_0'), xte[:16], ref)
    with open(os.path.join(d, 'float_top1.txt'), 'w') as f:
        f.write(f'{top1:.4f}\n')  # fraction of the 10000 test images, e.g. 0.9012
    print(f'wrote {d}')


if __name__ == '__main__':
    main()
