/* A C program on the installed C API: compress the example model to int8,
 * print what the report says, and show how an error comes back. */
#include <onnxcompress/c_api.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: c_example MODEL.onnx CALIB_DIR OUTPUT.onnx\n");
    return 2;
  }
  if (onnxc_api_version() != ONNXC_C_API_VERSION) return fprintf(stderr, "API version mismatch\n"), 1;
  onnxc_error* error = NULL;
  onnxc_settings* settings = onnxc_settings_create();
  if (onnxc_settings_set(settings, "calib_data", argv[2], &error) != 0) goto fail;
  char* report = onnxc_compress(argv[1], argv[3], "optimize,quantize", settings, &error);
  if (report == NULL) goto fail;
  printf("report: %zu bytes, quantize ran: %s\n", strlen(report), strstr(report, "\"quantize\"") ? "yes" : "no");
  onnxc_string_free(report);

  /* Load the result back and run one more pipeline on it in memory. */
  onnxc_model* model = onnxc_model_load(argv[3], &error);
  if (model == NULL) goto fail;
  report = onnxc_run_pipeline(model, "statistics", NULL, &error);
  if (report == NULL) goto fail;
  printf("statistics: %s\n", strstr(report, "QuantizeLinear") ? "has QuantizeLinear" : "no QuantizeLinear");
  onnxc_string_free(report);
  onnxc_model_free(model);

  /* Errors are codes and messages, never an exit. */
  model = onnxc_model_load("/nonexistent/model.onnx", &error);
  printf("error %d: %s\n", onnxc_error_code(error), onnxc_error_message(error));
  onnxc_error_free(error);
  onnxc_settings_free(settings);
  return model == NULL ? 0 : 1;

fail:
  fprintf(stderr, "failed: %s\n", onnxc_error_message(error));
  onnxc_error_free(error);
  onnxc_settings_free(settings);
  return 1;
}
