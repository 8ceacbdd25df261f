#!/usr/bin/python3
"""Export a small BERT-style text classifier to ONNX (opset 17).

Why: the CNNs exercise Conv/BN; transformer encoders are the other half of what
people deploy, with Gather embeddings, MatMul/Gemm projections, Reshape and
Transpose into heads, Softmax attention, LayerNormalization and Erf-based GELU.
Weights are random (seeded). Torch's outputs are stored as the reference
(ONNX conformance-test layout), at batch 1 and 4.

transformer_outliers/ is the same encoder with the LayerNorm gains of 3 of
its 64 channels set to 20: trained BERTs have such outlier dimensions in
their LayerNorms (Bondarenko et al. 2021), which is what per-tensor int8
activations handle worst and SmoothQuant is for. Same inputs; its
calibration data is transformer/calib.
    /usr/bin/python3 testdata/make_transformer.py --out testdata/generated
"""
import argparse
import math
import os

import numpy as np
import onnx
import torch
from onnx import numpy_helper

VOCAB, SEQ, DIM, HEADS, FF, LAYERS, CLASSES = 1000, 32, 64, 4, 256, 2, 5


class EncoderLayer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = torch.nn.Linear(DIM, 3 * DIM)
        self.proj = torch.nn.Linear(DIM, DIM)
        self.ln1 = torch.nn.LayerNorm(DIM)
        self.ff1 = torch.nn.Linear(DIM, FF)
        self.ff2 = torch.nn.Linear(FF, DIM)
        self.ln2 = torch.nn.LayerNorm(DIM)

    def forward(self, x):
        hd = DIM // HEADS
        q, k, v = self.qkv(x).split(DIM, dim=-1)
        # -1 for the batch: the exporter then writes constant Reshape shapes.
        q = q.reshape(-1, SEQ, HEADS, hd).transpose(1, 2)
        k = k.reshape(-1, SEQ, HEADS, hd).transpose(1, 2)
        v = v.reshape(-1, SEQ, HEADS, hd).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), dim=-1)
        h = (att @ v).transpose(1, 2).reshape(-1, SEQ, DIM)
        x = self.ln1(x + self.proj(h))
        return self.ln2(x + self.ff2(torch.nn.functional.gelu(self.ff1(x))))


class TextClassifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = torch.nn.Embedding(VOCAB, DIM)
        self.pos = torch.nn.Parameter(torch.randn(1, SEQ, DIM) * 0.1)
        self.layers = torch.nn.ModuleList([EncoderLayer() for _ in range(LAYERS)])
        self.head = torch.nn.Linear(DIM, CLASSES)

    def forward(self, ids):
        x = self.tok(ids) + self.pos
        for layer in self.layers:
            x = layer(x)
        return self.head(x.mean(dim=1))


OUTLIER_CHANNELS, OUTLIER_GAIN = (5, 17, 42), 20.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = TextClassifier().eval()
    export(model, os.path.join(args.out, 'transformer'))
    with torch.no_grad():
        for layer in model.layers:
            for ln in (layer.ln1, layer.ln2):
                for c in OUTLIER_CHANNELS:
                    ln.weight[c] = OUTLIER_GAIN
    export(model, os.path.join(args.out, 'transformer_outliers'))


def export(model, d):
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, 'model.onnx')
    torch.onnx.export(model, torch.zeros((1, SEQ), dtype=torch.int64), path, opset_version=17,
                      input_names=['input_ids'], output_names=['logits'],
                      dynamic_axes={'input_ids': {0: 'batch'}, 'logits': {0: 'batch'}})
    m = onnx.load(path)
    onnx.checker.check_model(m)
    rng = np.random.default_rng(0)
    for k, batch in enumerate([1, 4]):
        ids = rng.integers(0, VOCAB, (batch, SEQ), dtype=np.int64)
        with torch.no_grad():
            y = model(torch.from_numpy(ids)).numpy()
        case = os.path.join(d, f'test_data_set_{k}')
        os.makedirs(case, exist_ok=True)
        onnx.save_tensor(numpy_helper.from_array(ids, 'input_ids'), os.path.join(case, 'input_0.pb'))
        onnx.save_tensor(numpy_helper.from_array(y, 'logits'), os.path.join(case, 'output_0.pb'))
    ops = sorted({n.op_type for n in m.graph.node})
    print(f'{os.path.basename(d)}: {path}, {len(m.graph.node)} nodes, ops: {" ".join(ops)}')


if __name__ == '__main__':
    main()
