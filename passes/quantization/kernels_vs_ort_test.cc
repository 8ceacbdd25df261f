// The kernels compute QDQ models as ONNX specifies: every quantized test model
// is run node by node, each node on the inputs ONNX Runtime (graph
// optimisations disabled: Q/DQ as written) gave it, and must agree with
// ORT's result to float rounding: float outputs to 60 dB or better,
// QuantizeLinear outputs within one step on at most 0.1% of the elements
// (a value a rounding error away from a step boundary lands on the other
// side). Whole models are compared too; deep random-weight networks amplify
// those boundary flips, so their end-to-end figure is printed, and asserted
// only where it is stable.
#include <cmath>
#include <cstdio>

#include "gtest/gtest.h"
#include "ir/import.h"
#include "ir/tensor_io.h"
#include "kernels/executor.h"
#include "passes/quantization/quantize_testutil.h"

namespace onnxc {
namespace {

struct NodeCheck {
  int nodes = 0;
  double worst_float_sqnr = INFINITY;
  std::string worst_float_node;
  double worst_int_fraction = 0;
  int64_t worst_int_step = 0;
  std::string worst_int_node;
};

NodeCheck CompareEveryNode(const Model& model, const std::vector<NamedTensor>& inputs,
                           const std::map<std::string, Tensor>& ort) {
  NodeCheck r;
  std::map<std::string, const Tensor*> given;
  for (const auto& in : inputs) given[in.name] = &in.tensor;
  for (const auto& n : model.graph().nodes()) {
    std::vector<const Tensor*> args;
    bool ok = true;
    for (Value* v : n->inputs()) {
      if (v == nullptr) { args.push_back(nullptr); continue; }
      if (v->has_initializer()) { args.push_back(v->initializer()); continue; }
      auto it = ort.find(v->name());
      auto gi = given.find(v->name());
      if (it != ort.end()) args.push_back(&it->second);
      else if (gi != given.end()) args.push_back(gi->second);
      else ok = false;
    }
    if (!ok) continue;
    auto out = RunNode(*n, args, static_cast<int>(model.OpsetVersion("")));
    EXPECT_TRUE(out.ok()) << n->Describe() << ": " << out.status();
    if (!out.ok()) continue;
    ++r.nodes;
    for (int i = 0; i < n->num_outputs() && i < static_cast<int>(out->size()); ++i) {
      if (n->output(i) == nullptr || !ort.count(n->output(i)->name())) continue;
      const Tensor& ref = ort.at(n->output(i)->name());
      const Tensor& got = (*out)[i];
      EXPECT_EQ(ref.dims(), got.dims()) << n->Describe();
      if (ref.dims() != got.dims()) continue;
      if (ref.type() == onnx::TensorProto::INT8 || ref.type() == onnx::TensorProto::UINT8) {
        std::vector<float> a = ref.ToFloatVector(), b = got.ToFloatVector();
        int64_t differ = 0, step = 0;
        for (size_t k = 0; k < a.size(); ++k) {
          int64_t d = static_cast<int64_t>(std::fabs(a[k] - b[k]));
          differ += d != 0;
          step = std::max(step, d);
        }
        double fraction = a.empty() ? 0 : static_cast<double>(differ) / a.size();
        if (fraction > r.worst_int_fraction || step > r.worst_int_step) {
          r.worst_int_fraction = std::max(r.worst_int_fraction, fraction);
          r.worst_int_step = std::max(r.worst_int_step, step);
          r.worst_int_node = n->Describe();
        }
      } else if (ref.type() == onnx::TensorProto::FLOAT) {
        TensorDiff d = CompareTensors(ref, got);
        double sqnr = d.max_ref == 0 ? (d.max_abs <= 1e-6 ? INFINITY : -INFINITY) : d.sqnr_db;
        if (sqnr < r.worst_float_sqnr) r.worst_float_sqnr = sqnr, r.worst_float_node = n->Describe();
      }
    }
  }
  return r;
}

struct Case {
  const char* name;
  const char* calib;
  double min_model_sqnr;  // end to end, ours vs ORT disabled; 0: printed only
};

TEST(KernelsVsOrt, QuantizedModelsNodeByNode) {
  REQUIRE_ORT_AND_DATA();
  for (Case c : std::vector<Case>{{"fmnist", "fmnist/calib", 60},
                                  {"fmnist_resnet", "fmnist_resnet/calib", 50},
                                  {"resnet18", "resnet18/test_data_set_1", 40},
                                  {"mobilenet_v2", "mobilenet_v2/test_data_set_1", 30},
                                  {"shufflenet_v2", "shufflenet_v2/test_data_set_1", 0},
                                  {"regnet_x_400mf", "regnet_x_400mf/test_data_set_1", 0},
                                  {"efficientnet_b0", "efficientnet_b0/test_data_set_1", 0},
                                  {"transformer", "transformer/test_data_set_1", 40},
                                  {"audio_kws", "audio_kws/calib", 30}}) {
    SCOPED_TRACE(c.name);
    auto q = Quantize(Gen(std::string(c.name) + "/model.onnx"), Gen(c.calib), "", std::string("kvo_") + c.name);
    ASSERT_TRUE(q.ok()) << q.status();
    auto inputs = ReadTensorPbSeries(Gen(std::string(c.name) + "/test_data_set_0"), "input");
    ASSERT_TRUE(inputs.ok()) << inputs.status();
    OrtOptions disabled;
    disabled.opt = "disabled";
    auto ort = RunWithOrtAllValues(q->output, *inputs, disabled);
    ASSERT_TRUE(ort.ok()) << ort.status();
    auto model = LoadModel(q->output);
    ASSERT_TRUE(model.ok()) << model.status();
    NodeCheck r = CompareEveryNode(**model, *inputs, *ort);
    // End to end: our executor on the whole QDQ model.
    ExecutorOptions eo;
    eo.threads = 2;
    auto ex = Executor::Create(**model, eo);
    ASSERT_TRUE(ex.ok()) << ex.status();
    std::vector<std::pair<std::string, Tensor>> feed;
    for (const auto& in : *inputs) feed.emplace_back(in.name, in.tensor);
    auto ours = (*ex)->Run(feed);
    ASSERT_TRUE(ours.ok()) << ours.status();
    TensorDiff whole = CompareTensors(ort->at((*model)->graph().outputs()[0]->name()), (*ours)[0]);
    std::printf("%-16s %4d nodes: worst float node %.1f dB (%s), worst Q node %.4f%% of elements, max %lld step (%s); "
                "whole model %.1f dB\n",
                c.name, r.nodes, r.worst_float_sqnr, r.worst_float_node.c_str(), 100 * r.worst_int_fraction,
                static_cast<long long>(r.worst_int_step), r.worst_int_node.c_str(), whole.sqnr_db);
    EXPECT_GT(r.nodes, 10);
    EXPECT_GE(r.worst_float_sqnr, 60) << r.worst_float_node;
    EXPECT_LE(r.worst_int_step, 1) << r.worst_int_node;
    EXPECT_LE(r.worst_int_fraction, 1e-3) << r.worst_int_node;
    if (c.min_model_sqnr > 0) EXPECT_GE(whole.sqnr_db, c.min_model_sqnr);
  }
}

}  // namespace
}  // namespace onnxc
