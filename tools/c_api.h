/* The C API of libonnxcompress: load a model, run a pipeline or a whole
 * compress job, save, read the JSON report. Plain C: only opaque handles and
 * C strings cross it, every object has a free function, and errors come back
 * as an onnxc_error (a code and a message naming the file, node and reason),
 * never as an exit or an abort. Usable from C and from Python's ctypes.
 *
 * Nothing is written to stderr: notes and progress go to the callback set
 * with onnxc_settings_set_note_callback, if any, and into the report.
 * Functions are safe to call from several threads on different models.
 */
#ifndef ONNXC_TOOLS_C_API_H_
#define ONNXC_TOOLS_C_API_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ONNXC_C_API_VERSION 1

typedef struct onnxc_error onnxc_error;
typedef struct onnxc_model onnxc_model;
typedef struct onnxc_settings onnxc_settings;

/* ONNXC_C_API_VERSION of the library (check it against the header's). */
int onnxc_api_version(void);

/* Errors: `error` arguments may be NULL; when not, a failure stores a new
 * error there (free it with onnxc_error_free). Codes are absl::StatusCode
 * values (3 invalid argument, 5 not found, 9 failed precondition, 13 internal). */
int onnxc_error_code(const onnxc_error* error);
const char* onnxc_error_message(const onnxc_error* error);
void onnxc_error_free(onnxc_error* error);

/* Strings returned by the library are freed with this. */
void onnxc_string_free(char* s);

/* Models. The file given is never modified. */
onnxc_model* onnxc_model_load(const char* path, onnxc_error** error);
onnxc_model* onnxc_model_load_bytes(const void* data, size_t size, onnxc_error** error);
/* Writes atomically (temporary file + rename). Returns 0 on success. */
int onnxc_model_save(const onnxc_model* model, const char* path, onnxc_error** error);
void onnxc_model_free(onnxc_model* model);

/* Settings of a run. Keys (values are strings):
 *   calib_data     calibration data, as --calib-data (a folder, .npy/.npz files, "random")
 *   calib_samples  at most this many samples (-1: all)
 *   config         a config in protobuf text format (tools/compress_config.proto), as --config's contents
 *   target         a deployment target, as --target
 *   threads        threads for the kernels
 *   check_samples  samples for the before/after output check of onnxc_compress (0: off)
 *   subprocesses   "on" (default): ONNX's checker, shape inference and version converter run in a
 *                  forked child, so a crash in libonnx is an error; "off": in this process, for
 *                  programs that may not fork. (A config's eval_cmd also starts a shell.)
 * Returns 0 on success. */
onnxc_settings* onnxc_settings_create(void);
int onnxc_settings_set(onnxc_settings* settings, const char* key, const char* value, onnxc_error** error);
typedef void (*onnxc_note_fn)(const char* line, void* user_data);
void onnxc_settings_set_note_callback(onnxc_settings* settings, onnxc_note_fn fn, void* user_data);
/* Progress of long jobs (calibration, sensitivity, SparseGPT, searches), at
 * most every 50 ms per job: its task ("calibrating"), what `done` counts
 * ("samples"), done of total (-1: unknown), and finished (0/1). */
typedef void (*onnxc_progress_fn)(const char* task, const char* unit, long long done, long long total, int finished,
                                  void* user_data);
void onnxc_settings_set_progress_callback(onnxc_settings* settings, onnxc_progress_fn fn, void* user_data);
void onnxc_settings_free(onnxc_settings* settings);

/* Runs `pipeline` (NULL or "": the config's, else optimize,quantize with
 * calibration data, else cleanup) on `model` in place. Returns the JSON
 * report (free with onnxc_string_free), or NULL on failure. */
char* onnxc_run_pipeline(onnxc_model* model, const char* pipeline, const onnxc_settings* settings,
                         onnxc_error** error);

/* What `compress --input --output` does: load, run, verify, save, and compare
 * the result with the original on check_samples inputs. Returns the JSON report. */
char* onnxc_compress(const char* input, const char* output, const char* pipeline, const onnxc_settings* settings,
                     onnxc_error** error);

/* Every registered pass and named pipeline, as a JSON array of
 * {"name", "description", "pipeline", "options": [{"name", "default", "help"}]}. */
char* onnxc_list_passes(void);

/* Loads a pass plugin (see passes/pass/pass_plugin.h). Returns 0 on success. */
int onnxc_load_pass_plugin(const char* path, onnxc_error** error);

#ifdef __cplusplus
}
#endif

#endif /* ONNXC_TOOLS_C_API_H_ */
