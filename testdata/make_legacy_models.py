#!/usr/bin/python3
"""Models in the shapes old or unusual exporters produce, with torch-computed references.

Why: the loaders, passes and quantizer must cope with more than opset-13 initializer graphs:
  fmnist_opset9/   the trained Fashion-MNIST CNN of fashion_mnist.py at opset 9 with every
                   weight in a Constant node and no initializers (how paddle2onnx/caffe2 and
                   old PaddleOCR models look), BatchNormalization unfused.
  fmnist_fp16/     the same CNN in float16 end to end (weights, graph input and output), opset 13.
  lstm_seq/        a trained recurrent classifier: Conv1d -> 2-layer bidirectional LSTM -> GRU ->
                   Linear, exported by torch at opset 14 (ONNX LSTM and GRU ops).
  lstm_seq_lens/   the same trained weights built with onnx.helper, because torch's exporter does
                   not emit sequence_lens: LSTM/GRU with sequence_lens, initial_h/initial_c inputs.
  rnn_seq/         a small trained Conv1d -> RNN (tanh) -> Linear classifier (ONNX RNN op).
The Fashion-MNIST weights come from OUT/fmnist/model.onnx (made by fashion_mnist.py).
    /usr/bin/python3 testdata/make_legacy_models.py --out testdata/generated
"""
import argparse
import os
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

import fashion_mnist as fm


def save_tensors(d, prefix, named_arrays):
    os.makedirs(d, exist_ok=True)
    for k, (name, a) in enumerate(named_arrays):
        onnx.save_tensor(numpy_helper.from_array(a, name), os.path.join(d, f'{prefix}_{k}.pb'))


def op_counts(m):
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return ops


def export(model, path, x, opset, input_names, output_names, dynamic_axes, fold=False):
    # PRESERVE + eval() + no constant folding keeps inference-mode BatchNormalization.
    # fold=True for the recurrent nets (no BN): otherwise torch reorders the LSTM gate weights
    # at run time with ~60 Slice/Concat nodes instead of storing them in ONNX order.
    torch.onnx.export(model, x, path, opset_version=opset, training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=fold, input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes)
    return onnx.load(path)


# ---- a. Fashion-MNIST CNN at opset 9, weights as Constant nodes -----------------------------

def load_fmnist_cnn(out):
    """fashion_mnist.make_model() with the trained weights of OUT/fmnist/model.onnx.

    torch exported the initializers under their state_dict names, so they load directly."""
    m = onnx.load(os.path.join(out, 'fmnist', 'model.onnx'))
    state = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in m.graph.initializer}
    model = fm.make_model()
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith('num_batches_tracked') for k in missing), (missing, unexpected)
    return model.eval()


def initializers_to_constants(m):
    """Moves every initializer into a Constant node at the top of the graph."""
    consts = [helper.make_node('Constant', [], [t.name], name=f'const_{t.name}', value=t)
              for t in m.graph.initializer]
    nodes = consts + list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    del m.graph.initializer[:]
    names = {c.output[0] for c in consts}
    kept = [i for i in m.graph.input if i.name not in names]  # IR < 4 lists them as inputs too
    del m.graph.input[:]
    m.graph.input.extend(kept)


def make_opset9(out, model, xte):
    d = os.path.join(out, 'fmnist_opset9')
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, 'model.onnx')
    m = export(model, path, torch.zeros(1, 1, 28, 28), 9, ['input'], ['logits'],
               {'input': {0: 'batch'}, 'logits': {0: 'batch'}})
    initializers_to_constants(m)
    onnx.checker.check_model(m)
    assert not m.graph.initializer and m.opset_import[0].version == 9
    assert op_counts(m).get('BatchNormalization') == 3
    onnx.save(m, path)
    with torch.no_grad():
        ref = model(torch.from_numpy(xte[:16])).numpy()
    save_tensors(os.path.join(d, 'test_data_set_0'), 'input', [('input', xte[:16])])
    save_tensors(os.path.join(d, 'test_data_set_0'), 'output', [('logits', ref)])
    return path


# ---- b. the same CNN in float16 -------------------------------------------------------------

def to_float16(m):
    """fp32 -> fp16 for this graph's op set (Conv/BN/Relu/MaxPool/Flatten/Gemm all take T=float16):
    initializers, graph input and output types. No Casts are needed."""
    for t in m.graph.initializer:
        if t.data_type == TensorProto.FLOAT:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))
    for v in list(m.graph.input) + list(m.graph.output):
        assert v.type.tensor_type.elem_type == TensorProto.FLOAT
        v.type.tensor_type.elem_type = TensorProto.FLOAT16
    del m.graph.value_info[:]
    assert all(n.op_type in ('Conv', 'BatchNormalization', 'Relu', 'MaxPool', 'Flatten', 'Gemm')
               for n in m.graph.node), op_counts(m)


def fp16_reference(model, x16):
    """What an fp16 runtime computes: fp16 weights, every layer's output rounded to fp16
    (torch 1.13 has no fp16 Conv on CPU, so each layer runs in fp32 on fp16 values)."""
    ref = fm.make_model()
    ref.load_state_dict(model.state_dict())
    ref.eval()
    with torch.no_grad():
        for p in list(ref.parameters()) + list(ref.buffers()):
            if p.is_floating_point():
                p.copy_(p.half().float())
        y = torch.from_numpy(x16.astype(np.float32))
        for layer in ref:
            y = layer(y).half().float()
    return y.numpy().astype(np.float16)


def make_fp16(out, model, xtr, xte):
    d = os.path.join(out, 'fmnist_fp16')
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, 'model.onnx')
    m = export(model, path, torch.zeros(1, 1, 28, 28), 13, ['input'], ['logits'],
               {'input': {0: 'batch'}, 'logits': {0: 'batch'}})
    to_float16(m)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)
    x16 = xte[:16].astype(np.float16)
    save_tensors(os.path.join(d, 'test_data_set_0'), 'input', [('input', x16)])
    save_tensors(os.path.join(d, 'test_data_set_0'), 'output', [('logits', fp16_reference(model, x16))])
    calib = np.random.default_rng(0).choice(len(xtr), 256, replace=False)  # fashion_mnist.py's
    for k in range(8):
        save_tensors(os.path.join(d, 'calib', f'test_data_set_{k}'), 'input',
                     [('input', xtr[calib[32 * k:32 * (k + 1)]].astype(np.float16))])
    return path


# ---- c. recurrent classifiers ---------------------------------------------------------------

T, F, H, N_CLS = 50, 4, 32, 4  # steps, features, hidden size, classes (sine/square/saw/pulse)


def make_sequences(seed, n):
    """Noisy periodic waveforms, 4 phase-shifted channels each; the class is the wave shape
    (sine, square, sawtooth, pulse train with 20% duty). Random frequency, phase, per-channel
    gain and offset; the noise (std 0.1..0.6) keeps the accuracy below 100%."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLS, n)
    t = np.arange(T)[None, :, None]
    freq = rng.uniform(1.5, 5, (n, 1, 1)) / T  # cycles per step
    phase = rng.uniform(0, 2 * np.pi, (n, 1, 1)) + rng.uniform(0.3, 1.2, (n, 1, 1)) * np.arange(F)
    theta = 2 * np.pi * freq * t + phase  # [n, T, F]
    saw = 2 * ((theta / (2 * np.pi)) % 1) - 1
    waves = np.stack([np.sin(theta), np.sign(np.sin(theta)), saw, np.where(saw > 0.6, 1.0, -0.25)])
    x = waves[y, np.arange(n)] * rng.uniform(0.5, 1.5, (n, 1, F)) + rng.normal(0, 0.3, (n, 1, F))
    x += rng.normal(size=x.shape) * rng.uniform(0.1, 0.6, (n, 1, 1))
    return x.astype(np.float32), y.astype(np.int64)


class LstmNet(nn.Module):
    """[N, T, 4] -> Conv1d(4->16, k3)+ReLU -> biLSTM(16->32, 2 layers) -> GRU(64->32) -> Linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(F, 16, 3, padding=1)
        self.lstm = nn.LSTM(16, H, num_layers=2, bidirectional=True, batch_first=True)
        self.gru = nn.GRU(2 * H, H, batch_first=True)
        self.fc = nn.Linear(H, N_CLS)

    def features(self, x):
        return torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)

    def forward(self, x):
        y, _ = self.lstm(self.features(x))
        _, h = self.gru(y)
        return self.fc(h[-1])

    def forward_lens(self, x, lens, h0, c0):
        """Reference for lstm_seq_lens: padded steps are skipped (packed sequences), so each
        direction's final state is the one at the sequence's own end, as ONNX defines it."""
        pack = lambda a: nn.utils.rnn.pack_padded_sequence(a, lens, batch_first=True, enforce_sorted=False)
        y, _ = self.lstm(pack(self.features(x)), (h0, c0))
        _, h = self.gru(y)
        return self.fc(h[-1])


class RnnNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(F, 16, 3, padding=1)
        self.rnn = nn.RNN(16, H, batch_first=True)
        self.fc = nn.Linear(H, N_CLS)

    def forward(self, x):
        _, h = self.rnn(torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2))
        return self.fc(h[-1])


def train(model, x, y, epochs, lr):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    bs = 64
    steps = epochs * ((len(x) + bs - 1) // bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(0)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), bs):
            idx = perm[i:i + bs]
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # recurrent nets: avoid spikes
            opt.step()
            sched.step()
    return model.eval()


def top1(model, x, y):
    with torch.no_grad():
        return float((model(torch.from_numpy(x)).argmax(1).numpy() == y).mean())


def write_seq_sets(d, model, xtr, xte, yte, acc):
    with torch.no_grad():
        for k, (lo, hi) in enumerate([(0, 1), (1, 9)]):
            ref = model(torch.from_numpy(xte[lo:hi])).numpy()
            save_tensors(os.path.join(d, f'test_data_set_{k}'), 'input', [('sequence', xte[lo:hi])])
            save_tensors(os.path.join(d, f'test_data_set_{k}'), 'output', [('logits', ref)])
    for k in range(8):
        save_tensors(os.path.join(d, 'calib', f'test_data_set_{k}'), 'input',
                     [('sequence', xtr[16 * k:16 * (k + 1)])])
    np.save(os.path.join(d, 'test_sequences.npy'), xte)
    np.save(os.path.join(d, 'test_labels.npy'), yte)
    with open(os.path.join(d, 'float_top1.txt'), 'w') as f:
        f.write(f'{acc:.4f}\n')


def export_seq(model, d, recurrent_op, count):
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, 'model.onnx')
    m = export(model, path, torch.zeros(1, T, F), 14, ['sequence'], ['logits'],
               {'sequence': {0: 'batch'}, 'logits': {0: 'batch'}}, fold=True)
    onnx.checker.check_model(m)
    ops = op_counts(m)
    assert all(ops.get(op) == n for op, n in zip(recurrent_op, count)), ops
    return path


def lstm_params(lstm, layer):
    """torch (gates i,f,g,o; b_ih and b_hh) -> ONNX W, R, B (gates i,o,f,c), both directions."""
    order = lambda w: torch.cat([w[0:H], w[3 * H:4 * H], w[H:2 * H], w[2 * H:3 * H]])
    W, R, B = [], [], []
    for sfx in ('', '_reverse'):
        g = lambda n: getattr(lstm, f'{n}_l{layer}{sfx}').detach()
        W.append(order(g('weight_ih')))
        R.append(order(g('weight_hh')))
        B.append(torch.cat([order(g('bias_ih')), order(g('bias_hh'))]))
    return [torch.stack(a).numpy() for a in (W, R, B)]


def gru_params(gru):
    """torch (gates r,z,n) -> ONNX (z,r,h). torch applies r after the hidden matmul:
    that is ONNX linear_before_reset=1."""
    order = lambda w: torch.cat([w[H:2 * H], w[0:H], w[2 * H:3 * H]])
    W, R = order(gru.weight_ih_l0.detach()), order(gru.weight_hh_l0.detach())
    B = torch.cat([order(gru.bias_ih_l0.detach()), order(gru.bias_hh_l0.detach())])
    return [a[None].numpy() for a in (W, R, B)]


def build_lstm_seq_lens(model):
    """LstmNet as an onnx.helper graph whose LSTMs take sequence_lens and initial_h/initial_c
    ([4, N, 32], torch's h0/c0 layout: layer-major, then direction), layout 0 (time-major)."""
    inits, nodes = [], []

    def const(name, a):
        inits.append(numpy_helper.from_array(np.asarray(a), name))
        return name

    def node(op, ins, outs, **attrs):
        nodes.append(helper.make_node(op, ins, outs, name=f'{op}_{len(nodes)}', **attrs))
        return outs[0] if len(outs) == 1 else outs

    x = node('Transpose', ['sequence'], ['x_nct'], perm=[0, 2, 1])
    x = node('Conv', [x, const('conv.weight', model.conv.weight.detach().numpy()),
                      const('conv.bias', model.conv.bias.detach().numpy())], ['conv'], pads=[1, 1])
    x = node('Relu', [x], ['relu'])
    x = node('Transpose', [x], ['x_tnc'], perm=[2, 0, 1])
    two = const('split_2_2', np.array([2, 2], np.int64))
    h = node('Split', ['initial_h', two], ['h_l0', 'h_l1'], axis=0)
    c = node('Split', ['initial_c', two], ['c_l0', 'c_l1'], axis=0)
    flat = const('shape_tn_1', np.array([0, 0, -1], np.int64))
    for layer in range(2):
        W, R, B = lstm_params(model.lstm, layer)
        y = node('LSTM', [x, const(f'lstm.W{layer}', W), const(f'lstm.R{layer}', R), const(f'lstm.B{layer}', B),
                          'sequence_lens', h[layer], c[layer]], [f'lstm{layer}_Y'],
                 hidden_size=H, direction='bidirectional', layout=0)
        y = node('Transpose', [y], [f'lstm{layer}_tnd'], perm=[0, 2, 1, 3])  # [T,2,N,H] -> [T,N,2,H]
        x = node('Reshape', [y, flat], [f'lstm{layer}_out'])  # [T, N, 2H]: fwd then bwd, as torch
    W, R, B = gru_params(model.gru)
    _, yh = node('GRU', [x, const('gru.W', W), const('gru.R', R), const('gru.B', B), 'sequence_lens'],
                 ['gru_Y', 'gru_Y_h'], hidden_size=H, linear_before_reset=1, layout=0)
    yh = node('Squeeze', [yh, const('axes_0', np.array([0], np.int64))], ['gru_h'])
    node('Gemm', [yh, const('fc.weight', model.fc.weight.detach().numpy()),
                  const('fc.bias', model.fc.bias.detach().numpy())], ['logits'], transB=1)

    f32 = lambda name, shape: helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
    g = helper.make_graph(nodes, 'lstm_seq_lens',
                          [f32('sequence', ['batch', T, F]),
                           helper.make_tensor_value_info('sequence_lens', TensorProto.INT32, ['batch']),
                           f32('initial_h', [4, 'batch', H]), f32('initial_c', [4, 'batch', H])],
                          [f32('logits', ['batch', N_CLS])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 14)], producer_name='make_legacy_models.py')
    m.ir_version = 7
    onnx.checker.check_model(m, full_check=True)
    return m


def lens_case(rng, x, lens):
    """Inputs for lstm_seq_lens: steps past each length zeroed, small random initial state."""
    x = x.copy()
    for i, n in enumerate(lens):
        x[i, n:] = 0
    n = len(x)
    h0 = (rng.standard_normal((4, n, H)) * 0.1).astype(np.float32)
    c0 = (rng.standard_normal((4, n, H)) * 0.1).astype(np.float32)
    return [('sequence', x), ('sequence_lens', np.asarray(lens, np.int32)), ('initial_h', h0), ('initial_c', c0)]


def make_recurrent(out):
    xtr, ytr = make_sequences(0, 8000)
    xte, yte = make_sequences(1, 1000)
    t0 = time.time()
    torch.manual_seed(0)
    lstm = train(LstmNet(), xtr, ytr, epochs=3, lr=5e-3)
    acc = top1(lstm, xte, yte)
    print(f'lstm_seq: trained in {time.time() - t0:.1f}s, top-1 {acc:.4f}', flush=True)
    d = os.path.join(out, 'lstm_seq')
    p1 = export_seq(lstm, d, ['LSTM', 'GRU'], [2, 1])
    write_seq_sets(d, lstm, xtr, xte, yte, acc)

    d = os.path.join(out, 'lstm_seq_lens')
    os.makedirs(d, exist_ok=True)
    p2 = os.path.join(d, 'model.onnx')
    onnx.save(build_lstm_seq_lens(lstm), p2)
    rng = np.random.default_rng(2)
    cases = [lens_case(rng, xte[:1], [37]), lens_case(rng, xte[1:9], [50, 12, 25, 50, 33, 7, 44, 19])]
    for k, feeds in enumerate(cases):
        with torch.no_grad():
            a = [torch.from_numpy(v) for _, v in feeds]
            ref = lstm.forward_lens(a[0], a[1].long(), a[2], a[3]).numpy()
        save_tensors(os.path.join(d, f'test_data_set_{k}'), 'input', feeds)
        save_tensors(os.path.join(d, f'test_data_set_{k}'), 'output', [('logits', ref)])
    for k in range(8):  # calibration: full-length training sequences, zero initial state
        x = xtr[16 * k:16 * (k + 1)]
        z = np.zeros((4, 16, H), np.float32)
        save_tensors(os.path.join(d, 'calib', f'test_data_set_{k}'), 'input',
                     [('sequence', x), ('sequence_lens', np.full(16, T, np.int32)), ('initial_h', z), ('initial_c', z)])

    t0 = time.time()
    torch.manual_seed(1)
    rnn = train(RnnNet(), xtr, ytr, epochs=12, lr=5e-3)  # cheap, slower to learn
    acc_rnn = top1(rnn, xte, yte)
    print(f'rnn_seq: trained in {time.time() - t0:.1f}s, top-1 {acc_rnn:.4f}', flush=True)
    d = os.path.join(out, 'rnn_seq')
    p3 = export_seq(rnn, d, ['RNN'], [1])
    write_seq_sets(d, rnn, xtr, xte, yte, acc_rnn)
    return [p1, p2, p3]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    # One thread: small ops gain little from two, and with a compiler sharing the two cores a
    # second OpenMP thread mostly spins (measured: 2-7x the CPU time per training step).
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)  # vanishing RNN gradients otherwise slow training down a lot
    xtr, _ = fm.load('train')
    xte = np.load(os.path.join(a.out, 'fmnist', 'test_images.npy'))
    cnn = load_fmnist_cnn(a.out)
    paths = [make_opset9(a.out, cnn, xte), make_fp16(a.out, cnn, xtr, xte)] + make_recurrent(a.out)
    for p in paths:
        m = onnx.load(p)
        print(f'{p}: opset {m.opset_import[0].version}, {len(m.graph.initializer)} initializers, '
              f'{dict(sorted(op_counts(m).items(), key=lambda t: -t[1]))}')


if __name__ == '__main__':
    main()
