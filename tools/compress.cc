// compress: runs a pass pipeline over an ONNX model and writes the result and
// a report. With no arguments it runs on a bundled example model.
//
//   bazel run //tools:compress -- --input M.onnx --output OUT.onnx
//       [--pipeline STR or --config FILE] [--report R.json] [--time-passes] [--verify-each]
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>
#include <string>
#include <unistd.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "analysis/calibration/calibration_data.h"
#include "analysis/calibration/calibration_settings.h"
#include "analysis/output_check.h"
#include "analysis/progress.h"
#include "ir/atomic_file.h"
#include "ir/export.h"
#include "ir/import.h"
#include "ir/verifier.h"
#include "nlohmann/json.hpp"
#include "passes/pass/instrumentation.h"
#include "passes/pass/pass_manager.h"
#include "passes/pass/pass_plugin.h"
#include "ir/atomic_file.h"
#include "tools/cli_util.h"
#include "tools/html_report.h"
#include "kernels/cpu_features.h"
#include "passes/sparsity/sparsity_run_settings.h"
#include "passes/quantization/deployment_target.h"
#include "passes/quantization/quantization_run_settings.h"
#include "passes/quantization/speed_estimate.h"
#include "passes/quantization/target_emulation.h"
#include "tools/compress_config.pb.h"
#include "tools/compress_config_text.h"
#include "tools/config_run_settings.h"

ABSL_FLAG(std::string, input, "", "ONNX model to compress (never modified).");
ABSL_FLAG(std::string, output, "", "Where to write the result (written atomically).");
ABSL_FLAG(std::string, pipeline, "",
          "Pass pipeline, e.g. 'cleanup,statistics' or 'fixed-point(eliminate-identity,dce)'. "
          "Default: cleanup. See --list-passes.");
ABSL_FLAG(std::string, config, "", "Config file (protobuf text format, tools/compress_config.proto).");
ABSL_FLAG(std::string, report, "", "Write a JSON report of what each pass did here.");
ABSL_FLAG(std::string, onnx_checker, "auto",
          "Run ONNX's checker and strict type inference on the input and the result: always, never, or auto "
          "(models of up to 50000 nodes: each check took 3.3 s on a 100k-node model and grows faster than the model).");
ABSL_FLAG(bool, list_passes, false, "List every pass and named pipeline with its options, then exit.");
ABSL_FLAG(bool, time_passes, false, "Print time and change counts per pass.");
ABSL_FLAG(bool, verify_each, false,
          "Verify after every pass with the IR verifier and ONNX's checker (opsets <= 17).");
ABSL_FLAG(std::string, dump_ir_before, "", "Comma-separated passes ('all' for every pass) to dump the IR before.");
ABSL_FLAG(std::string, dump_ir_after, "", "Comma-separated passes ('all' for every pass) to dump the IR after.");
ABSL_FLAG(std::string, dump_dir, "", "Folder for IR dumps (default: <output>.dumps).");
ABSL_FLAG(int64_t, external_data_threshold, -1,
          "Tensors of at least this many bytes go to <output>.data; -1 keeps each tensor where "
          "it was (models over 2 GB move out automatically).");
ABSL_FLAG(std::string, calib_data, "",
          "Calibration data for quantize: a folder of ONNX test-layout .pb files, .npy/.npz files, "
          "raw float32 .bin files as PATH:1x3x224x224, or 'random' (synthetic, with a warning). "
          "With no --pipeline, giving it runs 'optimize,quantize'.");
ABSL_FLAG(std::string, fake_quant_output, "",
          "Also write a fake-quant simulation model (float weights holding quantized values) here.");
ABSL_FLAG(std::string, check_data, "",
          "Inputs for the output check (same forms as --calib-data; default: the calibration data, else random). "
          "Held-out data gives an honest figure.");
ABSL_FLAG(int64_t, check_samples, 8,
          "Run the original and the result on this many samples (from --calib-data, else "
          "random) with the kernels and report how far the outputs moved; 0 turns it off.");
ABSL_FLAG(std::string, eval_cmd, "",
          "For fallback{target-metric=X}: a command that prints a metric (e.g. top-1) as its last "
          "line; {model} is replaced by the path of a candidate model.");
ABSL_FLAG(std::string, reproducer_dir, "",
          "Where a failing run writes its reproducer (default: <output>.reproducer).");
ABSL_FLAG(std::string, target, "",
          "Deployment target whose quantization choices fill what the config leaves unset, and whose runtime the "
          "output check computes like: portable (default: holds on every CPU ONNX Runtime runs on), x86-avx2, "
          "x86-vnni, arm64, tensorrt, ascend, generic.");
ABSL_FLAG(std::string, load_pass_plugin, "",
          "A pass plugin (.so) to load before the pipeline is read; repeat the flag for several "
          "(also load_pass_plugin in the config).");
ABSL_FLAG(int32_t, threads, 2, "Threads for the kernels (calibration, sensitivity, the output check).");
ABSL_FLAG(int64_t, calib_samples, -1, "Calibrate on at most this many samples (-1: all the data given).");
ABSL_FLAG(int64_t, calib_batch, 32, "Rows per run when a calibration file holds more (a big .npy).");
ABSL_FLAG(std::string, calib_shape, "", "Shape of raw float32 .bin calibration files, e.g. 1x3x224x224.");
ABSL_FLAG(int64_t, calib_bins, 2048, "Histogram bins per tensor (entropy, percentile, mse, ifmr).");
ABSL_FLAG(bool, calib_histograms, true,
          "A second pass over the data for exact histograms; false: one pass, minmax and moving-average only.");
ABSL_FLAG(std::string, calib_shard, "",
          "Calibrate one shard, k/n: every n-th batch from k; 'auto' takes k and n from the MPI job "
          "(mpirun) or Slurm job array this process runs in. With no --pipeline, runs 'optimize,calibrate' "
          "and needs no --output; save the statistics with --calib-stats-out.");
ABSL_FLAG(std::string, calib_stats_in, "",
          "Comma-separated saved calibration statistics to load and merge instead of calibrating "
          "(the shards of a sharded run).");
ABSL_FLAG(std::string, calib_stats_out, "",
          "Save the calibration statistics here ('{shard}' becomes the shard index; .pbtxt: text format).");

namespace onnxc {
namespace {

namespace fs = std::filesystem;

constexpr char kUsage[] =
    "compress: run a pass pipeline over an ONNX model.\n\n"
    "  bazel run //tools:compress -- --input M.onnx --output OUT.onnx [--pipeline STR | --config FILE]\n"
    "      [--report OUT.json] [--time-passes] [--verify-each] [--list-passes]\n\n"
    "With no arguments it runs on a bundled example model into a temporary folder.\n"
    "Exit codes: 0 ok, 2 bad usage, 3 bad input (model, config, data), 4 internal failure.";

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return code;
}

int64_t FileBytes(const std::string& model_path) {
  std::error_code ec;
  int64_t total = static_cast<int64_t>(fs::file_size(model_path, ec));
  if (ec) return -1;
  auto data = fs::file_size(model_path + ".data", ec);
  if (!ec) total += static_cast<int64_t>(data);
  return total;
}

// A flag the user did not give (so a config value may stand instead).
bool IsDefault(const char* name) {
  absl::CommandLineFlag* f = absl::FindCommandLineFlag(name);
  return f == nullptr || f->CurrentValue() == f->DefaultValue();
}

std::vector<std::string> SplitPaths(const std::string& list) {
  std::vector<std::string> out;
  for (absl::string_view p : absl::StrSplit(list, ',', absl::SkipWhitespace())) out.push_back(ResolveUserPath(std::string(p)));
  return out;
}

// --calib-* flags, else the config's calibration block, else the defaults.
absl::StatusOr<CalibrationSettings> CalibrationSettingsFromFlags(const CompressConfig& config,
                                                                 const std::string& data) {
  const CalibrationConfig& c = config.calibration();
  CalibrationSettings s;
  s.data = data;
  s.samples = IsDefault("calib_samples") && c.has_samples() ? c.samples() : absl::GetFlag(FLAGS_calib_samples);
  s.batch = IsDefault("calib_batch") && c.has_batch() ? c.batch() : absl::GetFlag(FLAGS_calib_batch);
  s.shape = absl::GetFlag(FLAGS_calib_shape).empty() ? c.shape() : absl::GetFlag(FLAGS_calib_shape);
  s.bins = IsDefault("calib_bins") && c.has_bins() ? c.bins() : absl::GetFlag(FLAGS_calib_bins);
  s.histograms =
      IsDefault("calib_histograms") && c.has_histograms() ? c.histograms() : absl::GetFlag(FLAGS_calib_histograms);
  auto shard = CalibrationShard::Parse(absl::GetFlag(FLAGS_calib_shard).empty() ? c.shard()
                                                                                 : absl::GetFlag(FLAGS_calib_shard));
  if (!shard.ok()) return shard.status();
  s.shard = *shard;
  if (!absl::GetFlag(FLAGS_calib_stats_in).empty()) s.stats_in = SplitPaths(absl::GetFlag(FLAGS_calib_stats_in));
  else for (const std::string& p : c.stats_in()) s.stats_in.push_back(ResolveUserPath(p));
  std::string out = absl::GetFlag(FLAGS_calib_stats_out).empty() ? c.stats_out() : absl::GetFlag(FLAGS_calib_stats_out);
  if (!out.empty()) s.stats_out = ResolveUserPath(out);
  if (s.samples == 0 || s.samples < -1) return absl::InvalidArgumentError("--calib-samples must be >= 1 (or -1: all)");
  if (s.batch < 1) return absl::InvalidArgumentError("--calib-batch must be >= 1");
  if (s.bins < 1) return absl::InvalidArgumentError("--calib-bins must be >= 1");
  return s;
}

// The deployment target the pipeline's last quantize pass used, if any.
const DeploymentTarget* QuantizedFor(const PassManager& pm) {
  const DeploymentTarget* found = nullptr;
  for (const PassRecord& r : pm.records())
    if (r.pass == "quantize" && r.details.contains("target")) {
      auto t = FindDeploymentTarget(r.details["target"].get<std::string>());
      if (t.ok()) found = *t;
    }
  return found;
}

// "target x86-avx2 (from --target): ...; this machine: AMD EPYC (AVX2, no VNNI): suits it"
std::string DescribeTarget(const DeploymentTarget& t, const QuantizationConfig& config) {
  CpuFeatures cpu = DetectCpuFeatures();
  // The summary says what the preset holds to; `why` only says who chose it.
  std::string why = config.target().empty() ? "the default; --target picks another" : "as asked";
  std::string line = absl::StrCat("target ", t.name, " (", why, "): ", t.summary, "\n");
  std::string suits = t.SuitsHost(cpu);
  if (!suits.empty()) absl::StrAppend(&line, "  this machine, ", cpu.model, " (", cpu.Describe(), "): ", suits, "\n");
  return line;
}

// ONNX Runtime's int8 vs float speed on the x86 CPUs `target` is for, from
// the work of one inference (speed_estimate.h). Says so loudly when int8
// would be slower.
struct SpeedReport {
  std::string text;
  nlohmann::json json;
};
SpeedReport EstimateOrtSpeed(const Model& original, const Model& emulated, const DeploymentTarget& target,
                             const std::string& data, const ExecutorOptions& eo) {
  SpeedReport r;
  auto source = CalibrationData::Open(original, data, 1);
  if (!source.ok()) return r;
  auto sample = (*source)->Next();
  if (!sample.ok() || !*sample) return r;
  auto float_work = ProfileWork(original, (*sample)->inputs, eo);
  auto int8_work = ProfileWork(emulated, (*sample)->inputs, eo);
  if (!float_work.ok() || !int8_work.ok()) return r;
  std::vector<const SpeedCosts*> cpus;
  if (target.name != "x86-avx2") cpus.push_back(&OrtX86VnniCosts());
  if (target.name != "x86-vnni") cpus.push_back(&OrtX86NoVnniCosts());
  std::string line = "estimated ONNX Runtime speed, int8 vs float (1 thread):";
  std::string slower;
  for (const SpeedCosts* c : cpus) {
    SpeedEstimate e = EstimateSpeed(*float_work, *int8_work, *c);
    absl::StrAppend(&line, " ", absl::StrFormat("%.2fx", e.speedup()), " on ", c->cpu, ";");
    r.json[c->cpu] = {{"float_ms", e.float_ms}, {"int8_ms", e.int8_ms}, {"speedup", e.speedup()}};
    if (e.speedup() < 1) absl::StrAppend(&slower, slower.empty() ? "" : ", ", c->cpu);
  }
  line.back() = '\n';
  const WorkProfile& w = *int8_work;
  const double int8_macs = w.dense_int8_macs + w.depthwise_int8_macs + w.grouped_int8_macs;
  const double macs = int8_macs + w.dense_float_macs + w.depthwise_float_macs + w.grouped_float_macs;
  absl::StrAppend(&line, absl::StrFormat("  work: %.0f%% of multiply-adds in integer kernels (%.0f%% depthwise), "
                                         "%.2g elements through standalone Q/DQ\n",
                                         macs > 0 ? 100 * int8_macs / macs : 0,
                                         macs > 0 ? 100 * (w.depthwise_int8_macs + w.depthwise_float_macs) / macs : 0,
                                         w.converted_elements));
  if (!slower.empty())
    absl::StrAppend(&line, "WARNING: THE INT8 MODEL IS LIKELY SLOWER THAN THE FLOAT ONE on ", slower,
                    ": its work is mostly depthwise convolutions or conversions between int8 and float. "
                    "Measure it (node testdata/ort/bench_compare.js), try another --target, or keep the float "
                    "model.\n");
  r.text = line;
  r.json["float_work"] = float_work->ToJson();
  r.json["int8_work"] = int8_work->ToJson();
  return r;
}

// The original (reloaded from disk) against the result as `target` computes
// it; returns the check and how the result was computed.
absl::StatusOr<std::pair<OutputCheck, std::string>> CheckOutputs(const std::string& input, const Model& result,
                                                                 const DeploymentTarget* target,
                                                                 const std::string& data, int64_t samples,
                                                                 const ExecutorOptions& eo, SpeedReport* speed) {
  auto original = LoadModel(input);
  if (!original.ok()) return original.status();
  if (target == nullptr) {
    auto check = CompareModelOutputs(**original, result, data, samples, eo);
    if (!check.ok()) return check.status();
    return std::make_pair(*std::move(check), std::string("the kernels"));
  }
  auto emulated = EmulateTarget(result, *target, eo);
  if (!emulated.ok()) return emulated.status();
  auto check = CompareModelOutputs(**original, *emulated->model, data, samples, emulated->executor);
  if (!check.ok()) return check.status();
  if (speed != nullptr && target->runtime == DeploymentTarget::Runtime::kOrtX86)
    *speed = EstimateOrtSpeed(**original, *emulated->model, *target, data, eo);
  return std::make_pair(*std::move(check), emulated->how);
}

// Every --load-pass-plugin given (absl keeps only the last of a repeated flag).
std::vector<std::string> PluginFlags(int argc, char** argv) {
  std::vector<std::string> out;
  for (int i = 1; i < argc; ++i) {
    std::string a = absl::StrReplaceAll(argv[i], {{"_", "-"}});
    if (absl::StartsWith(a, "--load-pass-plugin=")) out.push_back(std::string(argv[i]).substr(a.find('=') + 1));
    else if (a == "--load-pass-plugin" && i + 1 < argc) out.push_back(argv[++i]);
  }
  return out;
}

int Main(int argc, char** argv) {
  PreflightFlags(argc, argv, kUsage, "tools/compress");
  const std::vector<std::string> plugin_flags = PluginFlags(argc, argv);
  absl::ParseCommandLine(argc, argv);
  for (const std::string& p : plugin_flags) {
    absl::Status s = LoadPassPlugin(ResolveUserPath(p));
    if (!s.ok()) return Fail(kExitBadInput, std::string(s.message()));
  }

  if (absl::GetFlag(FLAGS_list_passes)) {
    std::printf("Passes and named pipelines:\n%s", PassRegistry::Global().Describe().c_str());
    return kExitOk;
  }

  CompressConfig config;
  if (!absl::GetFlag(FLAGS_config).empty()) {
    std::string path = ResolveUserPath(absl::GetFlag(FLAGS_config));
    std::ifstream f(path);
    if (!f) return Fail(kExitBadInput, absl::StrCat("cannot read config ", path));
    std::stringstream text;
    text << f.rdbuf();
    auto parsed = ParseCompressConfig(text.str(), absl::StrCat("config ", path));
    if (!parsed.ok()) return Fail(kExitBadInput, std::string(parsed.status().message()));
    config = *std::move(parsed);
    for (const std::string& p : config.load_pass_plugin()) {
      absl::Status s = LoadPassPlugin(ResolveUserPath(p));
      if (!s.ok()) return Fail(kExitBadInput, absl::StrCat("config ", path, ": ", s.message()));
    }
  }

  std::string input = ResolveUserPath(absl::GetFlag(FLAGS_input));
  std::string output = ResolveUserPath(absl::GetFlag(FLAGS_output));
  bool example = input.empty() && output.empty() && argc == 1;
  std::string example_calib;
  if (example) {
    // The main job on a real model: a Fashion-MNIST CNN (testdata/fashion_mnist.py)
    // quantized to int8 with 32 bundled calibration images.
    std::string bundle = RunfilesDir(argv[0]) + "/onnxcompress/testdata/models/fmnist_cnn";
    input = bundle + "/model.onnx";
    example_calib = bundle + "/calib";
    std::string dir = fs::temp_directory_path() / "onnxc-example-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) return Fail(kExitInternal, "cannot create a temporary folder");
    output = dir + "/fmnist_cnn.int8.onnx";
    std::printf("No arguments: quantizing the bundled example (a Fashion-MNIST CNN)\n  input  %s\n"
                "  calibration data %s\n  output %s\n",
                input.c_str(), example_calib.c_str(), output.c_str());
  }
  if (input.empty() || (output.empty() && absl::GetFlag(FLAGS_calib_shard).empty()))
    return Fail(kExitUsage, "--input and --output are both required (or give no arguments to run the example); see --help");
  std::error_code ec;
  if (fs::exists(output, ec) && fs::equivalent(input, output, ec))
    return Fail(kExitUsage, "--output is the input file; the input model is never modified in place");

  std::string calib_data = absl::GetFlag(FLAGS_calib_data);
  if (calib_data.empty()) calib_data = config.calib_data();
  if (calib_data.empty()) calib_data = example_calib;
  if (!calib_data.empty() && calib_data != "random" && calib_data.find(':') == std::string::npos)
    calib_data = ResolveUserPath(calib_data);
  auto calibration = CalibrationSettingsFromFlags(config, calib_data);
  if (!calibration.ok()) return Fail(kExitUsage, std::string(calibration.status().message()));
  std::string pipeline = absl::GetFlag(FLAGS_pipeline);
  if (pipeline.empty()) pipeline = DefaultPipeline(config, *calibration);
  auto pm = PassManager::Create(pipeline);
  if (!pm.ok()) return Fail(kExitUsage, std::string(pm.status().message()));

  auto model = LoadModel(input);
  if (!model.ok()) return Fail(ExitCodeFor(model.status()), std::string(model.status().message()));
  int64_t nodes_before = CountNodes(**model);
  // ONNX's checker is the strongest validity check we have, but not linear:
  // on large graphs it is left to --onnx-checker=always (our verifier runs always).
  constexpr int64_t kCheckerMaxNodes = 50000;
  const std::string checker_mode = absl::GetFlag(FLAGS_onnx_checker);
  if (checker_mode != "auto" && checker_mode != "always" && checker_mode != "never")
    return Fail(kExitUsage, absl::StrCat("--onnx-checker must be auto, always or never, not '", checker_mode, "'"));
  const bool run_checker = checker_mode == "always" || (checker_mode == "auto" && nodes_before <= kCheckerMaxNodes);
  const std::string checker_skipped =
      checker_mode == "never" ? "ONNX's checker not run (--onnx-checker=never)"
                              : absl::StrCat("ONNX's checker not run: ", nodes_before, " nodes > ", kCheckerMaxNodes,
                                             " (--onnx-checker=always runs it)");
  bool input_passes_checker = run_checker && CheckWithOnnx(**model).ok();

  bool verify_each = absl::GetFlag(FLAGS_verify_each) || config.verify_each();
  (*pm)->AddInstrumentation(std::make_unique<VerifyInstrumentation>(verify_each && input_passes_checker));
  if (absl::GetFlag(FLAGS_time_passes) || config.time_passes())
    (*pm)->AddInstrumentation(std::make_unique<TimingInstrumentation>(stderr));
  std::string dump_before = absl::GetFlag(FLAGS_dump_ir_before), dump_after = absl::GetFlag(FLAGS_dump_ir_after);
  if (!dump_before.empty() || !dump_after.empty()) {
    std::string dir = absl::GetFlag(FLAGS_dump_dir).empty() ? output + ".dumps" : ResolveUserPath(absl::GetFlag(FLAGS_dump_dir));
    auto split = [](const std::string& s) {
      std::vector<std::string> v = absl::StrSplit(s, ',', absl::SkipEmpty());
      return std::set<std::string>(v.begin(), v.end());
    };
    (*pm)->AddInstrumentation(std::make_unique<IrDumpInstrumentation>(split(dump_before), split(dump_after), dir));
  }
  std::string repro = absl::GetFlag(FLAGS_reproducer_dir).empty() ? output + ".reproducer"
                                                                   : ResolveUserPath(absl::GetFlag(FLAGS_reproducer_dir));
  (*pm)->AddInstrumentation(std::make_unique<ReproducerInstrumentation>(input, (*pm)->PipelineString(), repro));

  RunSettings settings;
  settings.threads = IsDefault("threads") && config.has_threads() ? config.threads() : absl::GetFlag(FLAGS_threads);
  if (settings.threads < 1) return Fail(kExitUsage, "--threads must be >= 1");
  settings.kernels = KernelOptions::FromEnvironment();
  settings.reporter = StderrReporter(isatty(fileno(stderr)));
  settings.calibration = *calibration;
  settings.eval_cmd = absl::GetFlag(FLAGS_eval_cmd).empty() ? config.eval_cmd() : absl::GetFlag(FLAGS_eval_cmd);
  std::string fake_quant = absl::GetFlag(FLAGS_fake_quant_output).empty() ? config.fake_quant_output()
                                                                          : absl::GetFlag(FLAGS_fake_quant_output);
  absl::Status families = SetFamilySettings(config, absl::GetFlag(FLAGS_target), output,
                                            fake_quant.empty() ? "" : ResolveUserPath(fake_quant), &settings);
  if (!families.ok()) return Fail(kExitUsage, std::string(families.message()));
  const QuantizationConfig& quantization_config = settings.families.Find<QuantizationRunSettings>()->config;
  PassContext ctx;
  ctx.settings = &settings;
  absl::Status run = (*pm)->Run(**model, ctx);
  if (!run.ok()) return Fail(ExitCodeFor(run), std::string(run.message()));
  if (output.empty()) {  // a calibration shard: the statistics are the result
    std::printf("%s", (*pm)->Summary().c_str());
    if (calibration->stats_out.empty())
      std::printf("warning: calibration shard %s computed but not saved (give --calib-stats-out)\n",
                  calibration->shard.ToString().c_str());
    return kExitOk;
  }

  absl::Status verified = VerifyModel(**model);
  if (!verified.ok()) return Fail(kExitInternal, absl::StrCat("the result fails verification: ", verified.message()));
  bool checker_ran = false;
  absl::Status checked = input_passes_checker ? CheckWithOnnx(**model, &checker_ran) : absl::OkStatus();
  if (!checked.ok()) return Fail(kExitInternal, absl::StrCat("the result fails ONNX's checker: ", checked.message()));

  SaveOptions save;
  save.external_threshold = absl::GetFlag(FLAGS_external_data_threshold);
  if (save.external_threshold < 0) save.external_threshold = config.external_data_threshold();
  absl::Status saved = SaveModel(**model, output, save);
  if (!saved.ok()) return Fail(kExitInternal, std::string(saved.message()));

  // What it cost: the original (reloaded from disk, never modified) and the
  // result on the same inputs, the result computed as its target computes it.
  nlohmann::json accuracy;
  std::string accuracy_text;
  const DeploymentTarget* target = QuantizedFor(**pm);
  SpeedReport speed;
  if (absl::GetFlag(FLAGS_check_samples) > 0) {
    ExecutorOptions eo{settings.threads, -1, false, settings.kernels};
    std::string check_data = absl::GetFlag(FLAGS_check_data).empty() ? calib_data
                                                                     : ResolveUserPath(absl::GetFlag(FLAGS_check_data));
    auto check = CheckOutputs(input, **model, target, check_data, absl::GetFlag(FLAGS_check_samples), eo, &speed);
    if (check.ok()) {
      accuracy = check->first.ToJson();
      accuracy["computed_as"] = check->second;
      accuracy_text = absl::StrCat("what it cost, computed as ", check->second, ", on ", check->first.source, ":\n",
                                   check->first.Summary());
    } else {
      accuracy = {{"skipped", std::string(check.status().message())}};
      accuracy_text = absl::StrCat("accuracy check skipped: ", check.status().message(), "\n");
    }
  }

  int64_t nodes_after = CountNodes(**model);
  int64_t in_bytes = FileBytes(input), out_bytes = FileBytes(output);
  std::printf("%s", (*pm)->Summary().c_str());
  std::printf("wrote %s: %lld nodes -> %lld, %lld bytes -> %lld (%.2fx smaller)%s\n", output.c_str(),
              static_cast<long long>(nodes_before), static_cast<long long>(nodes_after),
              static_cast<long long>(in_bytes), static_cast<long long>(out_bytes),
              out_bytes > 0 ? static_cast<double>(in_bytes) / out_bytes : 0.0,
              checker_ran   ? ", ONNX checker and strict type inference passed"
              : !run_checker ? absl::StrCat(", checked by our verifier only: ", checker_skipped).c_str()
                             : absl::StrCat(", checked by our verifier only: IR ", (*model)->ir_version(), " / opset ",
                                            (*model)->OpsetVersion(""), " is newer than ONNX 1.12's checker knows")
                                   .c_str());
  if (target != nullptr) std::printf("%s", DescribeTarget(*target, quantization_config).c_str());
  std::printf("%s%s", accuracy_text.c_str(), speed.text.c_str());

  std::string report = absl::GetFlag(FLAGS_report).empty() ? config.report() : absl::GetFlag(FLAGS_report);
  if (example && report.empty()) report = output + ".report.json";
  if (!report.empty()) {
    report = ResolveUserPath(report);
    nlohmann::json j = (*pm)->ReportJson();
    j["accuracy"] = accuracy;
    if (!speed.json.is_null()) j["speed_estimate"] = speed.json;
    j["input"] = {{"path", input}, {"bytes", in_bytes}, {"nodes", nodes_before}};
    j["output"] = {{"path", output}, {"bytes", out_bytes}, {"nodes", nodes_after},
                   {"onnx_checker", checker_ran    ? "passed"
                                    : !run_checker ? checker_skipped
                                                   : "not run (opset unknown to the checker or input failed it)"}};
    absl::Status w = WriteFileAtomically(report, j.dump(2) + "\n");
    if (!w.ok()) return Fail(kExitInternal, std::string(w.message()));
    std::printf("report: %s\n", report.c_str());
    std::string html = HtmlReportPath(report);
    absl::Status wh = WriteFileAtomically(html, RenderHtmlReport(j));
    if (!wh.ok()) return Fail(kExitInternal, std::string(wh.message()));
    std::printf("report (HTML): %s\n", html.c_str());
  }
  return kExitOk;
}

}  // namespace
}  // namespace onnxc

int main(int argc, char** argv) { return onnxc::Main(argc, argv); }
