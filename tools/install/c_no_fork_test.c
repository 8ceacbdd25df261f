/* With subprocesses=off the C API never forks; with the default it does
 * (ONNX's checker runs in a child). Counted with pthread_atfork. Progress
 * comes to the callback (calibration reports it). */
#include <onnxcompress/c_api.h>
#include <pthread.h>
#include <stdio.h>

static int forks = 0, progress = 0, notes = 0;
static void count_fork(void) { ++forks; }
static void on_progress(const char* task, const char* unit, long long done, long long total, int finished, void* user) {
  (void)task, (void)unit, (void)done, (void)total, (void)finished, (void)user;
  ++progress;
}
static void on_note(const char* line, void* user) { (void)line, (void)user; ++notes; }

static int run(const char* model, const char* calib, const char* out, const char* subprocesses) {
  onnxc_error* error = NULL;
  onnxc_settings* s = onnxc_settings_create();
  onnxc_settings_set(s, "calib_data", calib, NULL);
  onnxc_settings_set_progress_callback(s, on_progress, NULL);
  onnxc_settings_set_note_callback(s, on_note, NULL);
  if (onnxc_settings_set(s, "subprocesses", subprocesses, &error) != 0) return fprintf(stderr, "%s\n", onnxc_error_message(error)), -1;
  forks = 0;
  char* report = onnxc_compress(model, out, "optimize,quantize", s, &error);
  onnxc_settings_free(s);
  if (report == NULL) return fprintf(stderr, "%s\n", onnxc_error_message(error)), -1;
  onnxc_string_free(report);
  return forks;
}

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  pthread_atfork(count_fork, NULL, NULL);
  int with = run(argv[1], argv[2], argv[3], "on");
  int without = run(argv[1], argv[2], argv[3], "off");
  printf("forks: subprocesses=on %d, subprocesses=off %d; progress events %d\n", with, without, progress);
  return with > 0 && without == 0 && progress > 0 ? 0 : 1;
}
