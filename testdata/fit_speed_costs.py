#!/usr/bin/python3
"""Fits the speed estimate's per-unit costs (passes/quantization/speed_estimate.cc) to measured latencies.

    /usr/bin/python3 testdata/fit_speed_costs.py OUT_DIR/speed.jsonl

The input comes from testdata/target_report.sh: per model and target, ONNX Runtime's float and int8
latency and compress's work counts of both models. Non-negative least squares on relative error
(every latency weighs alike, small models too); prints the costs in nanoseconds per unit and, per
row, the measured and predicted speedup.
"""
import json
import sys

import numpy as np

KINDS = ["dense_float_macs", "depthwise_float_macs", "grouped_float_macs", "dense_int8_macs",
         "depthwise_int8_macs", "grouped_int8_macs", "converted_elements", "other_elements", "nodes",
         "integer_nodes"]


def nnls(a, b, iters=50000):
    """Projected gradient descent on column-scaled a (numpy has no NNLS; scipy is not a dependency)."""
    scale = np.linalg.norm(a, axis=0)
    scale[scale == 0] = 1
    a_s = a / scale
    x = np.zeros(a.shape[1])
    step = 1 / np.linalg.norm(a_s, 2) ** 2
    for _ in range(iters):
        x = np.maximum(0, x - step * (a_s.T @ (a_s @ x - b)))
    return x / scale


def main():
    rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
    rows = [r for r in rows if r["speed"]]
    a, y = [], []
    for r in rows:
        for work, ms in ((r["speed"]["float_work"], r["float_ms"]), (r["speed"]["int8_work"], r["int8_ms"])):
            a.append([work.get(k, 0) for k in KINDS])
            y.append(ms * 1e6)
    a, y = np.array(a), np.array(y)
    x = nnls(a / y[:, None], np.ones(len(y)))
    print("costs (ns per unit):")
    for k, v in zip(KINDS, x):
        print(f"  {k:22s} {v:.5g}")
    errors = []
    for r in rows:
        f = np.dot([r["speed"]["float_work"].get(k, 0) for k in KINDS], x)
        i = np.dot([r["speed"]["int8_work"].get(k, 0) for k in KINDS], x)
        measured, predicted = r["float_ms"] / r["int8_ms"], f / i
        errors.append(abs(predicted / measured - 1))
        print(f"  {r['model']:28s} {r['target']:16s} measured {measured:.2f}x predicted {predicted:.2f}x")
    errors = np.array(errors)
    print(f"{(errors <= 0.2).sum()}/{len(errors)} within 20%, mean error {100 * errors.mean():.0f}%")


if __name__ == "__main__":
    main()
