// The pass infrastructure: pipeline text, options, analysis caching and
// invalidation, fixed-point groups, verification and reproducers.
#include "passes/pass/pass_manager.h"

#include <filesystem>

#include "analysis/graph_statistics.h"
#include "gtest/gtest.h"
#include "ir/import.h"
#include "passes/pass/instrumentation.h"

namespace onnxc {
namespace {

std::string TestModel(const std::string& name) {
  return std::string(std::getenv("TEST_SRCDIR")) + "/onnxcompress/testdata/models/" + name;
}

TEST(Pipeline, PrintsBackTheSameText) {
  for (const char* text : {
           "dce",
           "constant-to-initializer,fixed-point(eliminate-identity,dce),shape-inference",
           "fixed-point{max-iterations=3}(dce,fixed-point(eliminate-identity))",
           "shape-inference{strict=true,overwrite=false},dce",
           "fuse{skip=[conv1*,conv2],top-k=3}",
           "fuse{name='a,b'}",
       }) {
    auto parsed = ParsePipeline(text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    EXPECT_EQ(PrintPipeline(*parsed), text);
    auto again = ParsePipeline(PrintPipeline(*parsed));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(PrintPipeline(*again), text);
  }
}

TEST(Pipeline, ListOptionsKeepTheirItems) {
  auto parsed = ParsePipeline("p{skip=[a*, b],x=1}");
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ((*parsed)[0].options.size(), 2u);
  EXPECT_EQ((*parsed)[0].options[0].second, "[a*, b]");
  PassOptions o = *PassOptions::Create("p", {{"skip", OptionSpec::Type::kList, "", ""},
                                             {"x", OptionSpec::Type::kInt, "0", ""}},
                                       (*parsed)[0].options);
  EXPECT_EQ(o.GetList("skip"), (std::vector<std::string>{"a*", "b"}));
  EXPECT_EQ(o.GetInt("x"), 1);
}

TEST(Pipeline, SyntaxErrorsSayWhere) {
  for (const char* bad : {"", "dce,", "dce{", "dce{a}", "fixed-point(dce", "dce)"}) {
    auto parsed = ParsePipeline(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) EXPECT_NE(parsed.status().message().find("position"), absl::string_view::npos);
  }
}

TEST(PassManager, UnknownPassAndOptionsAreRefusedWithChoices) {
  auto pm = PassManager::Create("dce,no-such-pass");
  ASSERT_FALSE(pm.ok());
  EXPECT_NE(pm.status().message().find("unknown pass 'no-such-pass'"), absl::string_view::npos);
  EXPECT_NE(pm.status().message().find("eliminate-identity"), absl::string_view::npos);

  pm = PassManager::Create("shape-inference{stric=true}");
  ASSERT_FALSE(pm.ok());
  EXPECT_NE(pm.status().message().find("no option 'stric'"), absl::string_view::npos);
  EXPECT_NE(pm.status().message().find("strict"), absl::string_view::npos);

  pm = PassManager::Create("shape-inference{strict=maybe}");
  ASSERT_FALSE(pm.ok());
  EXPECT_NE(pm.status().message().find("not a valid bool"), absl::string_view::npos);

  pm = PassManager::Create("fixed-point{max-iterations=0}(dce)");
  EXPECT_FALSE(pm.ok());
  pm = PassManager::Create("cleanup{x=1}");
  EXPECT_FALSE(pm.ok());
}

TEST(PassManager, NamedPipelineExpandsAndPrintsAsWritten) {
  auto pm = PassManager::Create("cleanup,statistics");
  ASSERT_TRUE(pm.ok()) << pm.status();
  EXPECT_EQ((*pm)->PipelineString(), "cleanup,statistics");
  auto model = LoadModel(TestModel("constant_node_weights.onnx"));
  ASSERT_TRUE(model.ok());
  ASSERT_TRUE((*pm)->Run(**model, {}).ok());
  std::vector<std::string> ran;
  for (const auto& r : (*pm)->records()) ran.push_back(r.pass);
  EXPECT_EQ(ran.front(), "constant-to-initializer");
  EXPECT_EQ(ran.back(), "statistics");
}

// The analysis is computed once while nothing changes the model, and again
// after a pass that changed it without preserving it.
TEST(PassManager, AnalysesAreCachedUntilAPassChangesTheModel) {
  auto model = LoadModel(TestModel("constant_node_weights.onnx"));
  ASSERT_TRUE(model.ok());
  auto pm = PassManager::Create("statistics,statistics,dce,statistics,constant-to-initializer,statistics");
  ASSERT_TRUE(pm.ok());
  ASSERT_TRUE((*pm)->Run(**model, {}).ok());
  // dce changes nothing here (no dead code), constant-to-initializer does.
  EXPECT_EQ((*pm)->records()[2].changes, 0);
  EXPECT_GT((*pm)->records()[4].changes, 0);
  EXPECT_EQ((*pm)->analyses().compute_counts().at(GraphStatistics::kName), 2);
  EXPECT_EQ((*pm)->ReportJson()["analyses_computed"].size(), 2u);
}

TEST(PassManager, FixedPointStopsWhenNothingChanges) {
  auto model = LoadModel(TestModel("if_subgraph.onnx"));
  ASSERT_TRUE(model.ok());
  auto pm = PassManager::Create("fixed-point{max-iterations=5}(eliminate-identity,dce)");
  ASSERT_TRUE(pm.ok());
  ASSERT_TRUE((*pm)->Run(**model, {}).ok());
  int last_round = 0;
  for (const auto& r : (*pm)->records()) last_round = std::max(last_round, r.iteration);
  EXPECT_LE(last_round, 2);  // the last round is the one that changed nothing
  EXPECT_EQ((*pm)->records().back().changes, 0);
}

// A pass that breaks the IR: moves the last node to the front.
class BreakOrder : public Pass {
 public:
  static constexpr char kName[] = "test-break-order";
  static constexpr char kDescription[] = "test only: breaks topological order";
  static std::vector<OptionSpec> Options() { return {}; }
  absl::StatusOr<PassResult> Run(Model& model, PassContext&) override {
    Graph& g = model.graph();
    g.MoveNode(g.nodes().back().get(), g.nodes().front().get());
    PassResult r;
    r.changes = 1;
    return r;
  }
};
ONNXC_REGISTER_PASS(BreakOrder);

TEST(PassManager, VerificationCatchesABrokenPassAndWritesAReproducer) {
  std::string input = TestModel("conv_bn.onnx");
  auto model = LoadModel(input);
  ASSERT_TRUE(model.ok());
  auto pm = PassManager::Create("dce,test-break-order,dce");
  ASSERT_TRUE(pm.ok());
  std::string repro = ::testing::TempDir() + "/repro";
  (*pm)->AddInstrumentation(std::make_unique<VerifyInstrumentation>(true));
  (*pm)->AddInstrumentation(
      std::make_unique<ReproducerInstrumentation>(input, (*pm)->PipelineString(), repro));
  absl::Status s = (*pm)->Run(**model, {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("test-break-order"), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("before it is produced"), absl::string_view::npos) << s;
  EXPECT_TRUE(std::filesystem::exists(repro + "/input.onnx"));
  EXPECT_TRUE(std::filesystem::exists(repro + "/pipeline.txt"));
  EXPECT_EQ((*pm)->records().size(), 2u);  // the last dce never ran
}

TEST(Registry, ListsEveryPassWithItsOptions) {
  std::string text = PassRegistry::Global().Describe();
  for (const char* name : {"dce", "eliminate-identity", "constant-to-initializer", "shape-inference",
                           "statistics", "cleanup", "fixed-point", "strict"})
    EXPECT_NE(text.find(name), std::string::npos) << name;
}

}  // namespace
}  // namespace onnxc
