"""onnxcompress: compress ONNX models from Python (Python 3.11; numpy optional).

A thin ctypes layer over libonnxcompress's C API (onnxcompress/c_api.h):

    import onnxcompress
    report = onnxcompress.compress("m.onnx", "m.int8.onnx", calib_data="calib/")
    onnxcompress.passes()                  # every pass and named pipeline
    m = onnxcompress.Model.load("m.onnx"); m.run("optimize"); m.save("m.opt.onnx")

Errors raise onnxcompress.Error with the tool's message (naming the file,
node and reason). Calibration data may be a path, a numpy array, a list of
arrays (one per model input, in order) or a dict of arrays by input name;
arrays are written to a temporary .npz for the run. The library is found
next to this package (PREFIX/lib), or at $ONNXC_LIBRARY.
"""
import ctypes
import json
import os
import tempfile

__all__ = ["Error", "Model", "compress", "passes", "load_pass_plugin", "api_version"]


def _find_library():
    if os.environ.get("ONNXC_LIBRARY"):
        return os.environ["ONNXC_LIBRARY"]
    here = os.path.dirname(os.path.abspath(__file__))
    # PREFIX/lib/python3/dist-packages/onnxcompress -> PREFIX/lib
    return os.path.join(here, "..", "..", "..", "libonnxcompress.so.1")


# RTLD_GLOBAL: pass plugins resolve their calls against the loaded library.
_lib = ctypes.CDLL(_find_library(), mode=ctypes.RTLD_GLOBAL)
_P = ctypes.c_void_p
_S = ctypes.c_char_p
_E = ctypes.POINTER(ctypes.c_void_p)
for name, res, args in [
    ("onnxc_api_version", ctypes.c_int, []),
    ("onnxc_error_code", ctypes.c_int, [_P]),
    ("onnxc_error_message", _S, [_P]),
    ("onnxc_error_free", None, [_P]),
    ("onnxc_string_free", None, [_P]),
    ("onnxc_model_load", _P, [_S, _E]),
    ("onnxc_model_load_bytes", _P, [ctypes.c_char_p, ctypes.c_size_t, _E]),
    ("onnxc_model_save", ctypes.c_int, [_P, _S, _E]),
    ("onnxc_model_free", None, [_P]),
    ("onnxc_settings_create", _P, []),
    ("onnxc_settings_set", ctypes.c_int, [_P, _S, _S, _E]),
    ("onnxc_settings_free", None, [_P]),
    ("onnxc_run_pipeline", _P, [_P, _S, _P, _E]),
    ("onnxc_compress", _P, [_S, _S, _S, _P, _E]),
    ("onnxc_list_passes", _P, []),
    ("onnxc_load_pass_plugin", ctypes.c_int, [_S, _E]),
]:
    f = getattr(_lib, name)
    f.restype = res
    f.argtypes = args


class Error(Exception):
    """A failure reported by the library: .code (absl status code) and the message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _check(err):
    if err.value:
        code = _lib.onnxc_error_code(err.value)
        message = _lib.onnxc_error_message(err.value).decode()
        _lib.onnxc_error_free(err.value)
        raise Error(code, message)


def _take_string(ptr):
    try:
        return ctypes.string_at(ptr).decode()
    finally:
        _lib.onnxc_string_free(ptr)


def api_version():
    return _lib.onnxc_api_version()


def passes():
    """Every registered pass and named pipeline: [{name, description, pipeline, options}]."""
    return json.loads(_take_string(_lib.onnxc_list_passes()))


def load_pass_plugin(path):
    err = ctypes.c_void_p()
    _lib.onnxc_load_pass_plugin(os.fsencode(path), ctypes.byref(err))
    _check(err)


class _Settings:
    """onnxc_settings with calibration arrays written to a temporary .npz."""

    def __init__(self, calib_data=None, config=None, target=None, threads=None, check_samples=None):
        self._tmp = None
        self.handle = _lib.onnxc_settings_create()
        if calib_data is not None and not isinstance(calib_data, (str, os.PathLike)):
            calib_data = self._write_arrays(calib_data)
        for key, value in (("calib_data", calib_data), ("config", config), ("target", target),
                           ("threads", threads), ("check_samples", check_samples)):
            if value is None:
                continue
            err = ctypes.c_void_p()
            _lib.onnxc_settings_set(self.handle, key.encode(), os.fsencode(str(value)), ctypes.byref(err))
            _check(err)

    def _write_arrays(self, data):
        import numpy as np
        if isinstance(data, np.ndarray):
            data = [data]
        if isinstance(data, (list, tuple)):  # by order: names that are no input
            data = {"onnxc_input_%d" % i: a for i, a in enumerate(data)}
        self._tmp = tempfile.TemporaryDirectory(prefix="onnxcompress-calib-")
        path = os.path.join(self._tmp.name, "calib.npz")
        np.savez(path, **{k: np.ascontiguousarray(v) for k, v in data.items()})
        return path

    def close(self):
        if self.handle:
            _lib.onnxc_settings_free(self.handle)
            self.handle = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def compress(input, output, pipeline=None, calib_data=None, config=None, target=None, threads=None,
             check_samples=None):
    """What `compress --input --output` does; returns the report (a dict).

    pipeline: as --pipeline (None: the config's, else optimize,quantize with calibration
    data, else cleanup). config: the text of a compress config (tools/compress_config.proto).
    """
    with _Settings(calib_data, config, target, threads, check_samples) as s:
        err = ctypes.c_void_p()
        out = _lib.onnxc_compress(os.fsencode(input), os.fsencode(output),
                                  pipeline.encode() if pipeline else None, s.handle, ctypes.byref(err))
        _check(err)
        return json.loads(_take_string(out))


class Model:
    """A model held by the library; the file it came from is never modified."""

    def __init__(self, handle):
        self._handle = handle

    @classmethod
    def load(cls, path):
        err = ctypes.c_void_p()
        h = _lib.onnxc_model_load(os.fsencode(path), ctypes.byref(err))
        _check(err)
        return cls(h)

    @classmethod
    def from_bytes(cls, data):
        err = ctypes.c_void_p()
        h = _lib.onnxc_model_load_bytes(data, len(data), ctypes.byref(err))
        _check(err)
        return cls(h)

    def run(self, pipeline=None, calib_data=None, config=None, target=None, threads=None):
        """Runs a pipeline on the model in place; returns the report (a dict)."""
        with _Settings(calib_data, config, target, threads) as s:
            err = ctypes.c_void_p()
            out = _lib.onnxc_run_pipeline(self._handle, pipeline.encode() if pipeline else None, s.handle,
                                          ctypes.byref(err))
            _check(err)
            return json.loads(_take_string(out))

    def save(self, path):
        err = ctypes.c_void_p()
        _lib.onnxc_model_save(self._handle, os.fsencode(path), ctypes.byref(err))
        _check(err)

    def close(self):
        if self._handle:
            _lib.onnxc_model_free(self._handle)
            self._handle = None

    def __del__(self):
        self.close()
