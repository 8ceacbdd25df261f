"""The Python module on the installed library: compress the example model,
read the report, run passes on a model object, pass numpy calibration data,
and compress two models in two threads (the same results as one at a time)."""
import hashlib
import os
import sys
import threading

import numpy as np
import onnxcompress

model, calib, out = sys.argv[1], sys.argv[2], sys.argv[3]
plugin = sys.argv[4] if len(sys.argv) > 4 else None
report = onnxcompress.compress(model, out + "/int8.onnx", calib_data=calib)
names = [p["pass"] for p in report["passes"]]
assert "quantize" in names, names
print("compress: passes", ",".join(names), "| output SQNR %.1f dB" % report["accuracy"]["worst_over_runs"][0]["sqnr_db"])

listed = {p["name"] for p in onnxcompress.passes()}
assert {"quantize", "prune-channels", "optimize"} <= listed
print("passes():", len(listed), "passes and pipelines")

m = onnxcompress.Model.load(model)
r = m.run("optimize,prune-channels{reconstruct=false,criterion=l2}")
pruned = [p for p in r["passes"] if p["pass"] == "prune-channels"][0]["details"]
m.save(out + "/pruned.onnx")
print("Model.run: multiply-adds %d -> %d" % (pruned["macs_before"], pruned["macs_after"]))

if plugin:  # the plugin of (a), loaded into this process through the library
    onnxcompress.load_pass_plugin(plugin)
    r = onnxcompress.Model.load(model).run("cleanup,my-pass{op=Relu}")
    assert [p for p in r["passes"] if p["pass"] == "my-pass"][0]["details"]["count"] == 3
    print("plugin pass from Python: 3 Relu nodes")

arrays = np.random.default_rng(0).random((16, 1, 28, 28), dtype=np.float32)
r = onnxcompress.compress(model, out + "/int8_numpy.onnx", calib_data=arrays)
print("numpy calibration: quantized with", [p for p in r["passes"] if p["pass"] == "quantize"][0]["notes"][0][:60])

try:
    onnxcompress.compress(out + "/missing.onnx", out + "/x.onnx")
    raise SystemExit("no error raised")
except onnxcompress.Error as e:
    assert "missing.onnx" in str(e), str(e)
    print("error raised:", e.code, str(e)[:80])

# Two threads, two jobs at once, against one at a time.
def job(tag, results):
    onnxcompress.compress(model, out + "/%s.onnx" % tag, calib_data=calib, pipeline="optimize,quantize")
    results[tag] = hashlib.sha256(open(out + "/%s.onnx" % tag, "rb").read()).hexdigest()

alone = {}
job("alone", alone)
together = {}
threads = [threading.Thread(target=job, args=("t%d" % i, together)) for i in range(2)]
for t in threads: t.start()
for t in threads: t.join()
assert together["t0"] == together["t1"] == alone["alone"], (together, alone)
print("two threads: identical to one at a time")
