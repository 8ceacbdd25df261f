// Scale benchmark: LoadModel + "cleanup" pipeline + SaveModel on synthetic
// models of 1k to 1M nodes.
//
// The model is a chain of blocks
//   Conv(W_i, B_i small initializers) -> Identity -> Relu -> Add(Constant k_i)
// plus a dead branch per block (Sigmoid -> Identity, read by nobody), so every
// pass of cleanup has work proportional to the model: constant-to-initializer
// converts each Constant, eliminate-identity and dce remove 2 of the 7 nodes
// of each block, shape-inference types every value.
//
// With --real-weights the model is instead a chain of
//   Conv(W_i: 8x8x3x3 floats, no bias) -> BatchNormalization(4 x 8 floats) -> Relu
// blocks: weights dominate the file as in real models, and optimize has a
// Conv+BN fusion per block.
//
// Modes:
//   pipeline_benchmark                       Google Benchmark over 1k..1M
//                                            (peak RSS there is the process's,
//                                            shared by all sizes)
//   pipeline_benchmark --generate=N --out=F [--real-weights]
//                                            write the N-node model to F
//   pipeline_benchmark --proto-roundtrip=F   the protobuf floor: parse F into
//                                            an onnx::ModelProto, serialize it
//                                            and write it back (time, peak RSS)
//   pipeline_benchmark --size=N --model=F    time load/pipeline/save of F in
//                                            this (fresh) process and print one
//                                            "result ..." line with honest peak
//                                            RSS (tools/pipeline_benchmark.sh)
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "ir/export.h"
#include "ir/import.h"
#include "onnx/onnx_pb.h"
#include "passes/pass/pass_manager.h"

namespace onnxc {
namespace {

namespace fs = std::filesystem;

constexpr int kNodesPerBlock = 7;
constexpr int kChannels = 4;

void SetTensorType(onnx::ValueInfoProto* vi, std::initializer_list<int64_t> dims) {
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

onnx::NodeProto* AddNode(onnx::GraphProto* g, const char* op, std::initializer_list<std::string> in,
                         const std::string& out) {
  onnx::NodeProto* n = g->add_node();
  n->set_op_type(op);
  for (const auto& s : in) n->add_input(s);
  n->add_output(out);
  return n;
}

void FillFloats(onnx::TensorProto* t, int64_t n, int seed) {
  std::string raw(n * sizeof(float), '\0');
  float* p = reinterpret_cast<float*>(raw.data());
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>((seed * 31 + i * 7) % 97) / 97.0f - 0.5f;
  t->set_raw_data(std::move(raw));
}

// An opset-13 model with an empty graph named `graph_name`.
onnx::ModelProto EmptyModel(const std::string& graph_name) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("pipeline_benchmark");
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(13);
  m.mutable_graph()->set_name(graph_name);
  return m;
}

// A model of about `nodes` nodes (a multiple of kNodesPerBlock).
onnx::ModelProto BuildModel(int64_t nodes) {
  onnx::ModelProto m = EmptyModel("chain");
  onnx::GraphProto* g = m.mutable_graph();
  SetTensorType(g->add_input(), {1, kChannels, 8, 8});
  g->mutable_input(0)->set_name("x");
  std::string cur = "x";
  int64_t blocks = std::max<int64_t>(1, nodes / kNodesPerBlock);
  for (int64_t b = 0; b < blocks; ++b) {
    std::string p = absl::StrCat("b", b, "_");
    onnx::TensorProto* w = g->add_initializer();
    w->set_name(p + "W");
    w->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : {kChannels, kChannels, 1, 1}) w->add_dims(d);
    FillFloats(w, kChannels * kChannels, static_cast<int>(b));
    onnx::TensorProto* bias = g->add_initializer();
    bias->set_name(p + "B");
    bias->set_data_type(onnx::TensorProto::FLOAT);
    bias->add_dims(kChannels);
    FillFloats(bias, kChannels, static_cast<int>(b) + 1);

    AddNode(g, "Conv", {cur, p + "W", p + "B"}, p + "conv")->set_name(p + "conv");
    AddNode(g, "Identity", {p + "conv"}, p + "id")->set_name(p + "id");
    AddNode(g, "Relu", {p + "id"}, p + "relu")->set_name(p + "relu");
    onnx::NodeProto* k = AddNode(g, "Constant", {}, p + "k");
    k->set_name(p + "k");
    onnx::AttributeProto* a = k->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    a->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
    a->mutable_t()->add_float_data(0.25f);
    AddNode(g, "Add", {p + "relu", p + "k"}, p + "add")->set_name(p + "add");
    // Dead branch.
    AddNode(g, "Sigmoid", {p + "add"}, p + "dead")->set_name(p + "dead");
    AddNode(g, "Identity", {p + "dead"}, p + "dead_id")->set_name(p + "dead_id");
    cur = p + "add";
  }
  onnx::NodeProto* out = AddNode(g, "Identity", {cur}, "y");
  out->set_name("output");
  SetTensorType(g->add_output(), {1, kChannels, 8, 8});
  g->mutable_output(0)->set_name("y");
  return m;
}

constexpr int kRealChannels = 8;

// Distinct pseudo-random weights (splitmix64), so no two tensors are equal
// and cse has nothing to merge, as in a trained model.
onnx::TensorProto* AddFloatInitializer(onnx::GraphProto* g, const std::string& name,
                                       std::initializer_list<int64_t> dims, uint64_t seed, float offset = 0) {
  onnx::TensorProto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  int64_t n = 1;
  for (int64_t d : dims) t->add_dims(d), n *= d;
  std::string raw(n * sizeof(float), '\0');
  float* p = reinterpret_cast<float*>(raw.data());
  uint64_t x = seed * 0x9E3779B97F4A7C15ull;
  for (int64_t i = 0; i < n; ++i) {
    uint64_t z = (x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const float u = static_cast<float>(z >> 40) / static_cast<float>(1 << 24) - 0.5f;  // [-0.5, 0.5)
    p[i] = offset != 0 ? std::abs(u) + offset : u;  // BN variances must be positive
  }
  t->set_raw_data(std::move(raw));
  return t;
}

// Conv(3x3) -> BatchNormalization -> Relu blocks with real weight tensors.
onnx::ModelProto BuildRealWeightsModel(int64_t nodes) {
  onnx::ModelProto m = EmptyModel("conv_bn_relu_chain");
  onnx::GraphProto* g = m.mutable_graph();
  const int64_t C = kRealChannels;
  SetTensorType(g->add_input(), {1, C, 8, 8});
  g->mutable_input(0)->set_name("x");
  std::string cur = "x";
  const int64_t blocks = std::max<int64_t>(1, nodes / 3);
  for (int64_t b = 0; b < blocks; ++b) {
    const std::string p = absl::StrCat("b", b, "_");
    const uint64_t seed = static_cast<uint64_t>(b) * 8;
    AddFloatInitializer(g, p + "W", {C, C, 3, 3}, seed);
    AddFloatInitializer(g, p + "scale", {C}, seed + 1);
    AddFloatInitializer(g, p + "bias", {C}, seed + 2);
    AddFloatInitializer(g, p + "mean", {C}, seed + 3);
    AddFloatInitializer(g, p + "var", {C}, seed + 4, 0.5f);
    onnx::NodeProto* conv = AddNode(g, "Conv", {cur, p + "W"}, p + "conv");
    conv->set_name(p + "conv");
    onnx::AttributeProto* pads = conv->add_attribute();
    pads->set_name("pads");
    pads->set_type(onnx::AttributeProto::INTS);
    for (int i = 0; i < 4; ++i) pads->add_ints(1);
    AddNode(g, "BatchNormalization", {p + "conv", p + "scale", p + "bias", p + "mean", p + "var"}, p + "bn")
        ->set_name(p + "bn");
    AddNode(g, "Relu", {p + "bn"}, p + "relu")->set_name(p + "relu");
    cur = p + "relu";
  }
  onnx::NodeProto* out = AddNode(g, "Identity", {cur}, "y");
  out->set_name("output");
  SetTensorType(g->add_output(), {1, C, 8, 8});
  g->mutable_output(0)->set_name("y");
  return m;
}

void WriteModel(int64_t nodes, const std::string& path, bool real_weights = false) {
  onnx::ModelProto m = real_weights ? BuildRealWeightsModel(nodes) : BuildModel(nodes);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!m.SerializeToOstream(&f)) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

int64_t ProcStatusKb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  size_t n = std::strlen(key);
  while (std::getline(f, line))
    if (line.compare(0, n, key) == 0) return std::atoll(line.c_str() + n + 1);
  return -1;
}

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Timings {
  double load = 0, pipeline = 0, save = 0;
  int64_t nodes_in = 0, nodes_out = 0;
};

Timings RunOnce(const std::string& model_path, const std::string& out_path) {
  Timings t;
  double t0 = Seconds();
  auto model = LoadModel(model_path);
  if (!model.ok()) {
    std::fprintf(stderr, "load: %s\n", model.status().ToString().c_str());
    std::exit(1);
  }
  double t1 = Seconds();
  const bool verbose = std::getenv("PIPELINE_BENCHMARK_VERBOSE") != nullptr;
  auto mem = [&](const char* stage) {
    if (verbose)
      std::fprintf(stderr, "memory after %s: rss %.1f MB, peak %.1f MB\n", stage,
                   ProcStatusKb("VmRSS:") / 1024.0, ProcStatusKb("VmHWM:") / 1024.0);
  };
  mem("load");
  t.nodes_in = CountNodes(**model);
  // PIPELINE_BENCHMARK_PIPELINE=optimize measures fusion plus cleanup.
  const char* pipeline_env = std::getenv("PIPELINE_BENCHMARK_PIPELINE");
  auto pm = PassManager::Create(pipeline_env ? pipeline_env : "cleanup");
  if (!pm.ok()) {
    std::fprintf(stderr, "%s\n", pm.status().ToString().c_str());
    std::exit(1);
  }
  PassContext ctx;
  absl::Status s = (*pm)->Run(**model, ctx);
  if (!s.ok()) {
    std::fprintf(stderr, "cleanup: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  double t2 = Seconds();
  mem("cleanup");
  t.nodes_out = CountNodes(**model);
  s = SaveModel(**model, out_path);
  if (!s.ok()) {
    std::fprintf(stderr, "save: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  double t3 = Seconds();
  mem("save");
  t.load = t1 - t0;
  t.pipeline = t2 - t1;
  t.save = t3 - t2;
  if (verbose) std::fprintf(stderr, "%s", (*pm)->Summary().c_str());
  return t;
}

std::string TempDir() {
  static const std::string dir = [] {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl = absl::StrCat(base ? base : "/tmp", "/pipeline_benchmark_XXXXXX");
    if (::mkdtemp(tmpl.data()) == nullptr) std::exit(1);
    return tmpl;
  }();
  return dir;
}

void BM_LoadCleanupSave(benchmark::State& state) {
  const int64_t n = state.range(0);
  // Outside the timed region: generate and write the model once.
  const std::string in = absl::StrCat(TempDir(), "/in_", n, ".onnx");
  const std::string out = absl::StrCat(TempDir(), "/out_", n, ".onnx");
  if (!fs::exists(in)) WriteModel(n, in);
  Timings sum;
  int64_t iters = 0;
  for (auto _ : state) {
    Timings t = RunOnce(in, out);
    sum.load += t.load;
    sum.pipeline += t.pipeline;
    sum.save += t.save;
    sum.nodes_in = t.nodes_in;
    ++iters;
  }
  double total = (sum.load + sum.pipeline + sum.save) / iters;
  state.counters["nodes"] = static_cast<double>(sum.nodes_in);
  state.counters["ns_per_node"] = total * 1e9 / sum.nodes_in;
  state.counters["load_ms"] = sum.load / iters * 1e3;
  state.counters["pipeline_ms"] = sum.pipeline / iters * 1e3;
  state.counters["save_ms"] = sum.save / iters * 1e3;
  state.counters["file_MB"] = static_cast<double>(fs::file_size(in)) / (1 << 20);
  state.counters["peak_rss_MB"] = ProcStatusKb("VmHWM:") / 1024.0;  // whole process so far
  fs::remove(out);
  fs::remove(out + ".data");
}
BENCHMARK(BM_LoadCleanupSave)
    ->Arg(1000)->Arg(10000)->Arg(100000)->Arg(1000000)
    ->Unit(benchmark::kMillisecond)->UseRealTime();

// --size=N --model=F: one measured run in this process.
int MeasureMode(int64_t size, const std::string& model) {
  std::string out = model + ".out.onnx";
  int64_t rss_start = ProcStatusKb("VmRSS:");
  Timings t = RunOnce(model, out);
  int64_t peak_kb = ProcStatusKb("VmHWM:");
  double file_mb = static_cast<double>(fs::file_size(model)) / (1 << 20);
  double total = t.load + t.pipeline + t.save;
  std::printf(
      "result nodes=%lld nodes_after=%lld file_mb=%.2f load_ms=%.1f pipeline_ms=%.1f save_ms=%.1f "
      "total_ms=%.1f ns_per_node=%.0f peak_rss_mb=%.1f base_rss_mb=%.1f\n",
      static_cast<long long>(t.nodes_in), static_cast<long long>(t.nodes_out), file_mb,
      t.load * 1e3, t.pipeline * 1e3, t.save * 1e3, total * 1e3, total * 1e9 / t.nodes_in,
      peak_kb / 1024.0, rss_start / 1024.0);
  (void)size;
  fs::remove(out);
  return 0;
}

// --proto-only=F: the baseline any ONNX tool pays: parse F into an
// onnx::ModelProto (no arena, as onnxoptimizer and the Python onnx package
// do) and print the peak RSS.
int ProtoOnlyMode(const std::string& model) {
  int64_t rss_start = ProcStatusKb("VmRSS:");
  double t0 = Seconds();
  {
    onnx::ModelProto m;
    std::ifstream f(model, std::ios::binary);
    if (!m.ParseFromIstream(&f)) {
      std::fprintf(stderr, "cannot parse %s\n", model.c_str());
      return 1;
    }
    std::printf("proto nodes=%d parse_ms=%.1f peak_rss_mb=%.1f base_rss_mb=%.1f\n", m.graph().node_size(),
                (Seconds() - t0) * 1e3, ProcStatusKb("VmHWM:") / 1024.0, rss_start / 1024.0);
  }
  return 0;
}

// --proto-roundtrip=F: the floor for any tool that reads and writes ONNX
// with protobuf: parse into an onnx::ModelProto, serialize, write the file.
int ProtoRoundtripMode(const std::string& model) {
  const double t0 = Seconds();
  const std::string out = model + ".roundtrip.onnx";
  {
    onnx::ModelProto m;
    {
      std::ifstream f(model, std::ios::binary);
      if (!m.ParseFromIstream(&f)) {
        std::fprintf(stderr, "cannot parse %s\n", model.c_str());
        return 1;
      }
    }
    const double t1 = Seconds();
    std::string bytes;
    if (!m.SerializeToString(&bytes)) return 1;
    std::ofstream f(out, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.close();
    const double t2 = Seconds();
    std::printf("roundtrip nodes=%d parse_ms=%.1f serialize_write_ms=%.1f total_ms=%.1f peak_rss_mb=%.1f\n",
                m.graph().node_size(), (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t2 - t0) * 1e3,
                ProcStatusKb("VmHWM:") / 1024.0);
  }
  fs::remove(out);
  return 0;
}

}  // namespace
}  // namespace onnxc

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    bool ours = false;
    if (a == "--real-weights") {
      flags["--real-weights"] = "1";
      continue;
    }
    for (const char* f : {"--size=", "--generate=", "--out=", "--model=", "--proto-only=", "--proto-roundtrip="}) {
      if (a.rfind(f, 0) == 0) {
        flags[std::string(f, std::strlen(f) - 1)] = a.substr(std::strlen(f));
        ours = true;
      }
    }
    if (!ours) argv[kept++] = argv[i];
  }
  argc = kept;
  int64_t n = 0;
  if (flags.count("--generate")) {
    if (!absl::SimpleAtoi(flags["--generate"], &n) || !flags.count("--out")) {
      std::fprintf(stderr, "usage: --generate=N --out=FILE\n");
      return 2;
    }
    onnxc::WriteModel(n, flags["--out"], flags.count("--real-weights") > 0);
    return 0;
  }
  if (flags.count("--proto-only")) return onnxc::ProtoOnlyMode(flags["--proto-only"]);
  if (flags.count("--proto-roundtrip")) return onnxc::ProtoRoundtripMode(flags["--proto-roundtrip"]);
  if (flags.count("--size")) {
    if (!absl::SimpleAtoi(flags["--size"], &n)) return 2;
    std::string model = flags["--model"];
    if (model.empty()) {  // generate here (then peak RSS includes generation)
      model = absl::StrCat(onnxc::TempDir(), "/in_", n, ".onnx");
      onnxc::WriteModel(n, model);
    }
    return onnxc::MeasureMode(n, model);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::filesystem::remove_all(onnxc::TempDir());
  return 0;
}
