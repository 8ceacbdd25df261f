// count-ops, the pass of the README's "Adding a pass" walk-through.
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "ir/import.h"
#include "passes/pass/pass_manager.h"

namespace onnxc {
namespace {

TEST(CountOps, CountsConvsIncludingSubgraphs) {
  auto model = LoadModel(std::string(std::getenv("TEST_SRCDIR")) +
                         "/onnxcompress/testdata/models/if_subgraph.onnx");
  ASSERT_TRUE(model.ok()) << model.status();
  auto pm = PassManager::Create("count-ops{op=Conv}");
  ASSERT_TRUE(pm.ok()) << pm.status();
  ASSERT_TRUE((*pm)->Run(**model, {}).ok());
  EXPECT_EQ((*pm)->records()[0].details["count"], 1);  // the Conv inside the then-branch
}

}  // namespace
}  // namespace onnxc
