"""Calibration data for the BERT-style encoder (make_transformer.py): 128
token sequences drawn as its test sets are (uniform ids, length 32), from a
different seed, in 8 ONNX test-layout folders of 16. GPTQ and the other
data-driven methods need more rows than the 4 held-out sequences.
transformer_outliers/ (the same encoder with LayerNorm outliers) gets a copy."""
import argparse
import os

import numpy as np
import onnx
from onnx import numpy_helper

VOCAB, SEQ = 1000, 32  # as make_transformer.py

ap = argparse.ArgumentParser()
ap.add_argument("--out", required=True)
out = ap.parse_args().out
rng = np.random.default_rng(2024)
for k in range(8):
    ids = rng.integers(0, VOCAB, (16, SEQ), dtype=np.int64)
    for model in ("transformer", "transformer_outliers"):
        d = os.path.join(out, model, "calib", f"test_data_set_{k}")
        os.makedirs(d, exist_ok=True)
        onnx.save_tensor(numpy_helper.from_array(ids, "input_ids"), os.path.join(d, "input_0.pb"))
