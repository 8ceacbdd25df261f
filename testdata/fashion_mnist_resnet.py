#!/usr/bin/python3
"""A small ResNet trained on Fashion-MNIST, exported to ONNX (BN kept).

The weights come from trained/fmnist_resnet.npz, which this script's training
made (--retrain trains again, about 90 s; see fashion_mnist.py for why).

Why: the plain CNN of fashion_mnist.py has no skip connections. Here the residual Add
joins two branches with different scales (the block's BN output and the shortcut), which
is what per-tensor activation quantization and BN folding get wrong in practice, and the
accuracy loss can be measured because the model is really trained. Layout: stem conv,
3 stages x 2 basic blocks (3x3 Conv-BN-ReLU, 3x3 Conv-BN, + shortcut, ReLU), each stage
starting with a stride-2 block whose shortcut is a strided 1x1 Conv-BN projection
(28x28 -> 14, 7, 4), GlobalAveragePool, Linear. The stride-2 first stage keeps an epoch at
~25 CPU-seconds (a 28x28 first stage costs 3x that and was no more accurate).
Data loading, the test set files and the calibration recipe are fashion_mnist.py's:
the test set is read from OUT/fmnist/test_images.npy / test_labels.npy (written by
fashion_mnist.py, not duplicated here).
    /usr/bin/python3 testdata/fashion_mnist_resnet.py --out testdata/generated [--retrain]
"""
import argparse
import os
import time

import numpy as np
import onnx
import torch
import torch.nn as nn

import fashion_mnist as fm


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()  # identity
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.shortcut(x))


def make_model(widths=(16, 32, 64)):
    layers = [nn.Conv2d(1, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()]
    cin = widths[0]
    for w in widths:  # 28x28 -> 14x14, 7x7, 4x4
        layers += [BasicBlock(cin, w, 2), BasicBlock(w, w, 1)]
        cin = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)]
    return nn.Sequential(*layers)


def train(model, xtr, ytr, epochs, train_size):
    # channels_last: ~1.3x faster training of these small convs on CPU.
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    bs = 128
    sub = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(1))[:train_size]
    xt, yt = torch.from_numpy(xtr)[sub], torch.from_numpy(ytr)[sub]
    steps = epochs * ((len(xt) + bs - 1) // bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=5e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(0)
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), bs):
            idx = perm[i:i + bs]
            x = xt[idx].contiguous(memory_format=torch.channels_last)
            loss = nn.functional.cross_entropy(model(x), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f'epoch {epoch + 1}: loss={loss.item():.3f} elapsed={time.time() - t0:.1f}s', flush=True)
    print(f'training {time.time() - t0:.1f}s')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--epochs', type=int, default=3)
    ap.add_argument('--train-size', type=int, default=60000, help='first N of a seeded permutation')
    fm.add_weight_args(ap, 'fmnist_resnet')
    a = ap.parse_args()
    # One thread: small ops gain little from two, and with a compiler sharing the two cores a
    # second OpenMP thread mostly spins (measured: 2-7x the CPU time per training step).
    torch.set_num_threads(1)
    torch.manual_seed(0)
    xtr, ytr = fm.load('train')
    src = os.path.join(a.out, 'fmnist')
    xte = np.load(os.path.join(src, 'test_images.npy'))
    yte = np.load(os.path.join(src, 'test_labels.npy'))

    model = make_model()
    shipped = os.path.join(fm.TRAINED, 'fmnist_resnet.npz')
    if a.retrain:
        train(model, xtr, ytr, a.epochs, a.train_size)
    else:
        fm.load_weights(model, shipped)
        print(f'weights from {shipped} (--retrain to train)')
    if a.save_weights:
        fm.save_weights(model, a.save_weights)
    model = model.to(memory_format=torch.contiguous_format).eval()
    top1 = fm.accuracy(model, xte, yte)
    print(f'float test top-1 {top1:.4f}')

    d = os.path.join(a.out, 'fmnist_resnet')
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, 'model.onnx')
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
    m = onnx.load(path)
    onnx.checker.check_model(m)
    bns = [n for n in m.graph.node if n.op_type == 'BatchNormalization']
    n_bn = sum(isinstance(x, nn.BatchNorm2d) for x in model.modules())
    assert len(bns) == n_bn and all(len(n.output) == 1 for n in bns), 'BN not preserved'

    # Calibration: 8 batches x 32 seeded-random training images (fashion_mnist.py's recipe).
    calib = np.random.default_rng(0).choice(len(xtr), 256, replace=False)
    for k in range(8):
        fm.save_case(os.path.join(d, 'calib', f'test_data_set_{k}'), xtr[calib[32 * k:32 * (k + 1)]])
    with torch.no_grad():
        ref = model(torch.from_numpy(xte[:16])).numpy()
    fm.save_case(os.path.join(d, 'test_data_set_0'), xte[:16], ref)
    with open(os.path.join(d, 'float_top1.txt'), 'w') as f:
        f.write(f'{top1:.4f}\n')  # fraction of the 10000 test images
    print(f'wrote {d}: {len(m.graph.node)} nodes, {len(bns)} BatchNormalization')


if __name__ == '__main__':
    main()
