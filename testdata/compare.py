#!/usr/bin/python3
"""Compare output_K.pb files in OUT_DIR against the references in REF_DIR.

Why: the check used to validate run.js (and later the C++ tools) against torch/numpy
references. Tolerance is relative to the reference's magnitude:
    max|out - ref| <= tol * max|ref| + 1e-6
(not max(1, max|ref|): random-weight mobilenet_v2 logits are only ~0.2 in size).
    /usr/bin/python3 testdata/compare.py REF_DIR OUT_DIR [--tol 1e-3]
Exit status 1 on mismatch or missing output.
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('ref_dir')
    ap.add_argument('out_dir')
    ap.add_argument('--tol', type=float, default=1e-3)
    a = ap.parse_args()
    ok, k = True, 0
    while os.path.exists(os.path.join(a.ref_dir, f'output_{k}.pb')):
        ref = numpy_helper.to_array(onnx.load_tensor(os.path.join(a.ref_dir, f'output_{k}.pb')))
        path = os.path.join(a.out_dir, f'output_{k}.pb')
        if not os.path.exists(path):
            print(f'output_{k}: MISSING {path}')
            ok, k = False, k + 1
            continue
        out = numpy_helper.to_array(onnx.load_tensor(path))
        if out.shape != ref.shape:
            print(f'output_{k}: shape {out.shape} != reference {ref.shape}')
            ok, k = False, k + 1
            continue
        diff = float(np.max(np.abs(out.astype(np.float64) - ref.astype(np.float64)))) if ref.size else 0.0
        scale = float(np.max(np.abs(ref.astype(np.float64)))) if ref.size else 0.0
        good = diff <= a.tol * scale + 1e-6
        ok &= good
        print(f'output_{k}: shape={list(ref.shape)} max_abs_diff={diff:.3g} ref_max_abs={scale:.3g} '
              f'rel={diff / max(scale, 1e-30):.3g} {"OK" if good else "FAIL"}')
        k += 1
    if k == 0:
        print(f'no output_K.pb references in {a.ref_dir}')
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
