// The C API (c_api.h) over the IR, the pass manager and the registry.
#include "tools/c_api.h"

#include <cstring>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "analysis/output_check.h"
#include "analysis/progress.h"
#include "ir/export.h"
#include "ir/import.h"
#include "ir/verifier.h"
#include "kernels/kernel_options.h"
#include "nlohmann/json.hpp"
#include "passes/pass/pass_manager.h"
#include "passes/pass/pass_plugin.h"
#include "passes/pass/registry.h"
#include "tools/compress_config.pb.h"
#include "tools/compress_config_text.h"
#include "tools/config_run_settings.h"

struct onnxc_error {
  int code;
  std::string message;
};

struct onnxc_model {
  std::unique_ptr<onnxc::Model> model;
};

struct onnxc_settings {
  std::string calib_data, target;
  int64_t calib_samples = -1;
  int threads = 2;
  int64_t check_samples = 8;
  onnxc::Isolation isolation = onnxc::Isolation::kChildProcess;
  onnxc::CompressConfig config;
  onnxc_note_fn note = nullptr;
  void* note_user = nullptr;
  onnxc_progress_fn progress = nullptr;
  void* progress_user = nullptr;
};

namespace {

// Stores `s` in *error; returns `failed` for the caller to return.
template <typename T>
T Fail(const absl::Status& s, onnxc_error** error, T failed) {
  if (error != nullptr) *error = new onnxc_error{static_cast<int>(s.code()), std::string(s.message())};
  return failed;
}

char* CopyString(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  std::memcpy(out, s.data(), s.size() + 1);
  return out;
}

const onnxc_settings& Defaults() {
  static const onnxc_settings* d = new onnxc_settings();
  return *d;
}

// The run's settings from the C settings, as compress builds them from its flags.
absl::Status MakeRunSettings(const onnxc_settings& c, const std::string& output, onnxc::RunSettings* s,
                             std::string* pipeline) {
  const onnxc::CompressConfig& config = c.config;
  s->threads = c.threads;
  s->isolation = c.isolation;
  s->kernels = onnxc::KernelOptions::FromEnvironment();
  onnxc::Reporter::NoteFn note;
  onnxc::Reporter::ProgressFn progress;
  if (c.note != nullptr)
    note = [fn = c.note, user = c.note_user](const std::string& line) { fn(line.c_str(), user); };
  if (c.progress != nullptr)
    progress = [fn = c.progress, user = c.progress_user](const onnxc::ProgressEvent& e) {
      fn(e.task.c_str(), e.unit.c_str(), e.done, e.total, e.finished ? 1 : 0, user);
    };
  s->reporter = onnxc::Reporter(progress, note);
  onnxc::CalibrationSettings& cal = s->calibration;
  cal.data = !c.calib_data.empty() ? c.calib_data : config.calib_data();
  cal.samples = c.calib_samples != -1 ? c.calib_samples : config.calibration().has_samples() ? config.calibration().samples() : -1;
  if (config.calibration().has_batch()) cal.batch = config.calibration().batch();
  if (config.calibration().has_bins()) cal.bins = config.calibration().bins();
  if (config.calibration().has_histograms()) cal.histograms = config.calibration().histograms();
  cal.shape = config.calibration().shape();
  s->eval_cmd = config.eval_cmd();
  if (pipeline->empty()) *pipeline = onnxc::DefaultPipeline(config, cal);
  return onnxc::SetFamilySettings(config, c.target, output, "", s);
}

absl::StatusOr<nlohmann::json> RunOn(onnxc::Model& model, const char* pipeline_text, const onnxc_settings& c,
                                     const std::string& output) {
  onnxc::RunSettings settings;
  std::string pipeline = pipeline_text ? pipeline_text : "";
  absl::Status s = MakeRunSettings(c, output, &settings, &pipeline);
  if (!s.ok()) return s;
  auto pm = onnxc::PassManager::Create(pipeline);
  if (!pm.ok()) return pm.status();
  onnxc::PassContext ctx;
  ctx.settings = &settings;
  s = (*pm)->Run(model, ctx);
  if (!s.ok()) return s;
  return (*pm)->ReportJson();
}

}  // namespace

extern "C" {

int onnxc_api_version(void) { return ONNXC_C_API_VERSION; }

int onnxc_error_code(const onnxc_error* e) { return e ? e->code : 0; }
const char* onnxc_error_message(const onnxc_error* e) { return e ? e->message.c_str() : ""; }
void onnxc_error_free(onnxc_error* e) { delete e; }
void onnxc_string_free(char* s) { std::free(s); }

onnxc_model* onnxc_model_load(const char* path, onnxc_error** error) {
  if (path == nullptr) return Fail(absl::InvalidArgumentError("onnxc_model_load: path is NULL"), error, nullptr);
  auto m = onnxc::LoadModel(path);
  if (!m.ok()) return Fail(m.status(), error, static_cast<onnxc_model*>(nullptr));
  return new onnxc_model{*std::move(m)};
}

onnxc_model* onnxc_model_load_bytes(const void* data, size_t size, onnxc_error** error) {
  if (data == nullptr && size > 0) return Fail(absl::InvalidArgumentError("onnxc_model_load_bytes: data is NULL"), error, nullptr);
  auto m = onnxc::ParseModel(std::string(static_cast<const char*>(data), size));
  if (!m.ok()) return Fail(m.status(), error, static_cast<onnxc_model*>(nullptr));
  return new onnxc_model{*std::move(m)};
}

int onnxc_model_save(const onnxc_model* model, const char* path, onnxc_error** error) {
  if (model == nullptr || path == nullptr) return Fail(absl::InvalidArgumentError("onnxc_model_save: NULL argument"), error, 1);
  absl::Status s = onnxc::SaveModel(*model->model, path);
  return s.ok() ? 0 : Fail(s, error, 1);
}

void onnxc_model_free(onnxc_model* model) { delete model; }

onnxc_settings* onnxc_settings_create(void) { return new onnxc_settings(); }
void onnxc_settings_free(onnxc_settings* s) { delete s; }

void onnxc_settings_set_note_callback(onnxc_settings* s, onnxc_note_fn fn, void* user) {
  if (s == nullptr) return;
  s->note = fn;
  s->note_user = user;
}

void onnxc_settings_set_progress_callback(onnxc_settings* s, onnxc_progress_fn fn, void* user) {
  if (s == nullptr) return;
  s->progress = fn;
  s->progress_user = user;
}

int onnxc_settings_set(onnxc_settings* s, const char* key_c, const char* value_c, onnxc_error** error) {
  if (s == nullptr || key_c == nullptr || value_c == nullptr)
    return Fail(absl::InvalidArgumentError("onnxc_settings_set: NULL argument"), error, 1);
  const std::string key = key_c, value = value_c;
  int64_t n = 0;
  auto number = [&](int64_t lo) {
    if (!absl::SimpleAtoi(value, &n) || n < lo)
      return absl::InvalidArgumentError(absl::StrCat("setting ", key, ": '", value, "' is not a number >= ", lo));
    return absl::OkStatus();
  };
  absl::Status st;
  if (key == "calib_data") s->calib_data = value;
  else if (key == "target") s->target = value;
  else if (key == "calib_samples") { st = number(-1); if (st.ok()) s->calib_samples = n; }
  else if (key == "threads") { st = number(1); if (st.ok()) s->threads = static_cast<int>(n); }
  else if (key == "check_samples") { st = number(0); if (st.ok()) s->check_samples = n; }
  else if (key == "subprocesses") {
    if (value == "on") s->isolation = onnxc::Isolation::kChildProcess;
    else if (value == "off") s->isolation = onnxc::Isolation::kInProcess;
    else st = absl::InvalidArgumentError(absl::StrCat("setting subprocesses: '", value, "'; on or off"));
  }
  else if (key == "config") {
    auto config = onnxc::ParseCompressConfig(value, "config");
    st = config.status();
    for (int i = 0; st.ok() && i < config->load_pass_plugin_size(); ++i)
      st = onnxc::LoadPassPlugin(config->load_pass_plugin(i));
    if (st.ok()) s->config = *std::move(config);
  } else {
    st = absl::InvalidArgumentError(absl::StrCat("unknown setting '", key,
                                                 "'; calib_data, calib_samples, config, target, threads, check_samples, subprocesses"));
  }
  return st.ok() ? 0 : Fail(st, error, 1);
}

char* onnxc_run_pipeline(onnxc_model* model, const char* pipeline, const onnxc_settings* settings, onnxc_error** error) {
  if (model == nullptr) return Fail(absl::InvalidArgumentError("onnxc_run_pipeline: model is NULL"), error, nullptr);
  auto report = RunOn(*model->model, pipeline, settings ? *settings : Defaults(), "");
  if (!report.ok()) return Fail(report.status(), error, static_cast<char*>(nullptr));
  return CopyString(report->dump(2));
}

char* onnxc_compress(const char* input, const char* output, const char* pipeline, const onnxc_settings* settings_c,
                     onnxc_error** error) {
  if (input == nullptr || output == nullptr)
    return Fail(absl::InvalidArgumentError("onnxc_compress: input and output are required"), error, nullptr);
  if (std::string(input) == output)
    return Fail(absl::InvalidArgumentError("onnxc_compress: output is the input file; the input is never modified in place"),
                error, nullptr);
  const onnxc_settings& c = settings_c ? *settings_c : Defaults();
  auto model = onnxc::LoadModel(input);
  if (!model.ok()) return Fail(model.status(), error, static_cast<char*>(nullptr));
  const bool checkable = onnxc::CheckWithOnnx(**model, nullptr, c.isolation).ok();
  auto report = RunOn(**model, pipeline, c, output);
  if (!report.ok()) return Fail(report.status(), error, static_cast<char*>(nullptr));
  absl::Status s = onnxc::VerifyModel(**model);
  if (s.ok() && checkable) s = onnxc::CheckWithOnnx(**model, nullptr, c.isolation);
  if (!s.ok()) return Fail(absl::InternalError(absl::StrCat("the result fails verification: ", s.message())), error,
                           static_cast<char*>(nullptr));
  s = onnxc::SaveModel(**model, output);
  if (!s.ok()) return Fail(s, error, static_cast<char*>(nullptr));
  (*report)["input"] = {{"path", input}};
  (*report)["output"] = {{"path", output}};
  if (c.check_samples > 0) {
    auto original = onnxc::LoadModel(input);
    onnxc::ExecutorOptions eo;
    eo.threads = c.threads;
    const std::string data = !c.calib_data.empty() ? c.calib_data : c.config.calib_data();
    auto check = original.ok() ? onnxc::CompareModelOutputs(**original, **model, data, c.check_samples, eo)
                               : absl::StatusOr<onnxc::OutputCheck>(original.status());
    (*report)["accuracy"] = check.ok() ? check->ToJson() : nlohmann::json{{"skipped", std::string(check.status().message())}};
  }
  return CopyString(report->dump(2));
}

char* onnxc_list_passes(void) {
  nlohmann::json out = nlohmann::json::array();
  for (const onnxc::PassInfo* p : onnxc::PassRegistry::Global().List()) {
    nlohmann::json options = nlohmann::json::array();
    for (const onnxc::OptionSpec& o : p->options)
      options.push_back({{"name", o.name}, {"type", onnxc::OptionTypeName(o.type)}, {"default", o.default_value}, {"help", o.help}});
    out.push_back({{"name", p->name}, {"description", p->description}, {"pipeline", p->pipeline}, {"options", options}});
  }
  return CopyString(out.dump());
}

int onnxc_load_pass_plugin(const char* path, onnxc_error** error) {
  if (path == nullptr) return Fail(absl::InvalidArgumentError("onnxc_load_pass_plugin: path is NULL"), error, 1);
  absl::Status s = onnxc::LoadPassPlugin(path);
  return s.ok() ? 0 : Fail(s, error, 1);
}

}  // extern "C"
