#!/usr/bin/python3
"""Train a small sound classifier whose ONNX graph starts at the raw waveform (log-mel inside).

Why: a log-mel front end is the classic quantization trap. The STFT Conv1d sees audio in
[-1, 1], its squared outputs span ~10 orders of magnitude, and Log maps that to a wide range
again, so one per-tensor scale for the power spectrum (or the mel MatMul) loses the quiet
bins. Graph: waveform [N,16000] -> Unsqueeze -> Conv1d (fixed windowed-DFT basis, n_fft 400,
hop 160, 514 channels = 257 real + 257 imaginary) -> Slice re/im -> re*re + im*im ->
Transpose -> MatMul (fixed [257,40] mel filterbank) -> Add 1e-6 -> Log -> BN (input
normalisation) -> 3x Conv2d-BN-ReLU (+MaxPool) -> GlobalAveragePool -> Linear, 8 classes.
Nothing can be downloaded, so the data are synthetic but audio-like (see make_signal):
8 kinds of tones, chirps, harmonic stacks and noise bursts at random level (40 dB range),
onset, duration and phase, often with a weaker sound of another class on top, in white
noise at -8..20 dB SNR.
    /usr/bin/python3 testdata/make_audio.py --out testdata/generated
"""
import argparse
import os
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

SR, LEN = 16000, 16000
N_FFT, HOP, N_MELS = 400, 160, 40
CLASSES = ['low_tone', 'high_tone', 'up_chirp', 'down_chirp', 'harmonic', 'dual_tone',
           'warble', 'noise_burst']


def make_sound(rng, label, t):
    """The class-specific sound, unit peak, over the whole second (enveloped later)."""
    ph = rng.uniform(0, 2 * np.pi)
    if label == 0:
        s = np.sin(2 * np.pi * rng.uniform(150, 500) * t + ph)
    elif label == 1:
        s = np.sin(2 * np.pi * rng.uniform(1500, 3000) * t + ph)
    elif label in (2, 3):  # linear sweep over the whole second, at least 400 Hz wide
        f0 = rng.uniform(300, 1800)
        f1 = rng.uniform(f0 + 400, 2600)
        if label == 3:
            f0, f1 = f1, f0
        s = np.sin(2 * np.pi * (f0 * t + 0.5 * (f1 - f0) * t * t) + ph)
    elif label == 4:  # voiced-like: f0 with 3..8 harmonics falling off at a random slope
        f0, n, slope = rng.uniform(100, 300), rng.integers(3, 9), rng.uniform(0.5, 2)
        s = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k ** slope
                for k in range(1, n + 1))
    elif label == 5:  # two tones (DTMF-like)
        s = np.sin(2 * np.pi * rng.uniform(600, 1100) * t + ph) + \
            rng.uniform(0.3, 1) * np.sin(2 * np.pi * rng.uniform(1200, 1700) * t + rng.uniform(0, 2 * np.pi))
    elif label == 6:  # frequency-modulated tone, +-40..150 Hz at 4..10 Hz
        fc, rate, dev = rng.uniform(700, 2000), rng.uniform(4, 10), rng.uniform(40, 150)
        s = np.sin(2 * np.pi * fc * t + (dev / rate) * np.sin(2 * np.pi * rate * t) + ph)
    else:  # band-limited noise, a random 1.5 kHz wide band in 2.5-7 kHz
        spec = np.fft.rfft(rng.standard_normal(len(t)))
        f = np.fft.rfftfreq(len(t), 1 / SR)
        lo = rng.uniform(2500, 5500)
        s = np.fft.irfft(spec * ((f > lo) & (f < lo + 1500)), len(t))
    return s / np.abs(s).max()


def envelope(rng, t, dur):
    """Random onset, 20 ms raised-cosine attack and release."""
    onset = rng.uniform(0, 1 - dur)
    u = (t - onset) / dur
    edge = 0.02 / dur
    return np.where((u >= 0) & (u <= 1), 1.0, 0.0) * \
        (0.5 - 0.5 * np.cos(np.pi * np.clip(np.minimum(u, 1 - u) / edge, 0, 1)))


def make_signal(rng, label):
    """One second of audio: the labelled sound (0.15..0.7 s long, peak level 0.01..0.8, i.e. a
    40 dB range), half the time a weaker sound of another class on top (6..20 dB down), then
    white noise at -8..20 dB SNR relative to the labelled sound."""
    t = np.arange(LEN) / SR
    env = envelope(rng, t, rng.uniform(0.15, 0.7))
    s = make_sound(rng, label, t) * env
    if rng.uniform() < 0.5:
        other = (label + rng.integers(1, len(CLASSES))) % len(CLASSES)
        s += make_sound(rng, other, t) * envelope(rng, t, rng.uniform(0.15, 0.7)) * 10 ** (-rng.uniform(6, 20) / 20)
    s *= 10 ** rng.uniform(-2, -0.1) / np.abs(s).max()
    active_power = np.mean(s[env > 0.5] ** 2)
    noise = rng.standard_normal(LEN) * np.sqrt(active_power / 10 ** (rng.uniform(-8, 20) / 10))
    return (s + noise).astype(np.float32)


def make_set(seed, n):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(CLASSES), n)
    return np.stack([make_signal(rng, int(c)) for c in y]), y.astype(np.int64)


def mel_filterbank():
    """[257, 40] HTK-mel triangles from 20 Hz to 8 kHz on the rfft bin frequencies."""
    mel = lambda f: 2595 * np.log10(1 + f / 700)
    inv = lambda m: 700 * (10 ** (m / 2595) - 1)
    edges = inv(np.linspace(mel(20), mel(SR / 2), N_MELS + 2))
    f = np.arange(N_FFT // 2 + 1) * SR / N_FFT
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    fb = np.maximum(0, np.minimum((f - lo) / (mid - lo), (hi - f) / (hi - mid))).T
    assert (fb.sum(0) > 0).all(), 'empty mel band'
    return fb.astype(np.float32)


class LogMel(nn.Module):
    """STFT as a strided Conv1d with a fixed periodic-Hann-windowed DFT basis."""

    def __init__(self):
        super().__init__()
        n = np.arange(N_FFT)
        k = np.arange(N_FFT // 2 + 1)[:, None]
        win = 0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)
        basis = np.concatenate([win * np.cos(2 * np.pi * k * n / N_FFT),
                                -win * np.sin(2 * np.pi * k * n / N_FFT)])  # [514, 400]
        self.stft = nn.Conv1d(1, basis.shape[0], N_FFT, stride=HOP, bias=False)
        self.stft.weight.data = torch.from_numpy(basis.astype(np.float32))[:, None, :]
        self.stft.weight.requires_grad_(False)
        self.register_buffer('mel', torch.from_numpy(mel_filterbank()))

    def forward(self, wav):  # [N, 16000] -> [N, 1, 98, 40]
        s = self.stft(wav.unsqueeze(1))
        nb = N_FFT // 2 + 1
        re, im = s[:, :nb], s[:, nb:]
        power = (re * re + im * im).transpose(1, 2)  # [N, frames, 257]
        return torch.log(torch.matmul(power, self.mel) + 1e-6).unsqueeze(1)


def conv_bn(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


def make_classifier():
    return nn.Sequential(nn.BatchNorm2d(1),  # input normalisation of the log-mel (learned)
                         *conv_bn(1, 16), nn.MaxPool2d(2), *conv_bn(16, 32), nn.MaxPool2d(2),
                         *conv_bn(32, 64), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(64, len(CLASSES)))


def save_case(d, x, y=None, name='input_0.pb'):
    os.makedirs(d, exist_ok=True)
    onnx.save_tensor(numpy_helper.from_array(x, 'waveform'), os.path.join(d, name))
    if y is not None:
        onnx.save_tensor(numpy_helper.from_array(y, 'logits'), os.path.join(d, 'output_0.pb'))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--train', type=int, default=6000)
    ap.add_argument('--epochs', type=int, default=6)
    a = ap.parse_args()
    # One thread: small ops gain little from two, and with a compiler sharing the two cores a
    # second OpenMP thread mostly spins (measured: 2-7x the CPU time per training step).
    torch.set_num_threads(1)
    torch.manual_seed(0)
    t0 = time.time()
    front = LogMel().eval()
    # The front end is fixed, so features are computed once and only the CNN is trained.
    calib_wav, feats, labels = None, [], []
    for c in range(0, a.train, 250):  # chunks: the STFT output of 250 signals is already 50 MB
        w, y = make_set(1000 + c, min(250, a.train - c))  # a seed per chunk
        if calib_wav is None:
            calib_wav = w[:128]
        with torch.no_grad():
            feats.append(front(torch.from_numpy(w)))
        labels.append(torch.from_numpy(y))
    xf, yf = torch.cat(feats), torch.cat(labels)
    test_wav, test_y = make_set(1, 1000)  # held out: a seed no training chunk uses
    print(f'data {time.time() - t0:.1f}s: train {tuple(xf.shape)}, log-mel range '
          f'[{float(xf.min()):.1f}, {float(xf.max()):.1f}]', flush=True)

    clf = make_classifier()
    opt = torch.optim.Adam(clf.parameters(), lr=2e-3)
    bs = 64
    steps = a.epochs * ((len(xf) + bs - 1) // bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=5e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(0)
    for epoch in range(a.epochs):
        clf.train()
        perm = torch.randperm(len(xf), generator=gen)
        for i in range(0, len(xf), bs):
            idx = perm[i:i + bs]
            loss = nn.functional.cross_entropy(clf(xf[idx]), yf[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f'epoch {epoch + 1}: loss={loss.item():.3f} elapsed={time.time() - t0:.1f}s', flush=True)

    model = nn.Sequential(front, clf).eval()
    with torch.no_grad():
        logits = torch.cat([model(torch.from_numpy(test_wav[i:i + 250])) for i in range(0, 1000, 250)])
    pred = logits.argmax(1).numpy()
    top1 = float((pred == test_y).mean())
    per_class = [float((pred[test_y == c] == c).mean()) for c in range(len(CLASSES))]
    print(f'float top-1 {top1:.4f} on 1000 held-out signals; per class ' +
          ' '.join(f'{n}={p:.2f}' for n, p in zip(CLASSES, per_class)))

    d = os.path.join(a.out, 'audio_kws')
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, 'model.onnx')
    torch.onnx.export(model, torch.zeros(1, LEN), path, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      input_names=['waveform'], output_names=['logits'],
                      dynamic_axes={'waveform': {0: 'batch'}, 'logits': {0: 'batch'}})
    m = onnx.load(path)
    onnx.checker.check_model(m)
    ops = [n.op_type for n in m.graph.node]
    assert ops.count('BatchNormalization') == 4 and 'Log' in ops and 'MatMul' in ops, ops

    for k in range(8):
        save_case(os.path.join(d, 'calib', f'test_data_set_{k}'), calib_wav[16 * k:16 * (k + 1)])
    for k, (lo, hi) in enumerate([(0, 8), (8, 40)]):
        save_case(os.path.join(d, f'test_data_set_{k}'), test_wav[lo:hi], logits[lo:hi].numpy())
    np.save(os.path.join(d, 'test_waveforms.npy'), test_wav)
    np.save(os.path.join(d, 'test_labels.npy'), test_y)
    with open(os.path.join(d, 'float_top1.txt'), 'w') as f:
        f.write(f'{top1:.4f}\n')
    print(f'wrote {d} in {time.time() - t0:.1f}s')


if __name__ == '__main__':
    main()
