// onnxcompress: everything a pass author or an embedding tool uses, in one
// include (installed as <onnxcompress/onnxcompress.h>).
//   - the IR: Model, Graph, Node, Value, Tensor, loading and saving;
//   - passes: Pass, PassResult, OptionSpec, the registry and the pass manager;
//   - analyses: the analysis manager and the common analyses;
//   - plugins: ONNXC_PASS_PLUGIN (passes/pass/pass_plugin.h).
// Build against it with find_package(onnxcompress) and
// target_link_libraries(x onnxcompress::plugin) for a plugin, or
// onnxcompress::onnxcompress for a program that links the library.
#ifndef ONNXCOMPRESS_ONNXCOMPRESS_H_
#define ONNXCOMPRESS_ONNXCOMPRESS_H_

#include "analysis/analysis_manager.h"
#include "analysis/graph_statistics.h"
#include "analysis/progress.h"
#include "ir/constants.h"
#include "ir/export.h"
#include "ir/import.h"
#include "ir/model.h"
#include "ir/rewrite.h"
#include "ir/verifier.h"
#include "passes/pass/pass.h"
#include "passes/pass/pass_manager.h"
#include "passes/pass/pass_plugin.h"
#include "passes/pass/registry.h"

#endif  // ONNXCOMPRESS_ONNXCOMPRESS_H_
