// The greedy per-layer budget search shared by decomposition (ranks) and
// channel pruning (ratios), as AIMET's greedy selection: each layer has
// options (its cost, e.g. multiply-adds, and the loss measured with only that
// layer changed); starting from every layer unchanged, repeatedly take the
// step with the least loss added per cost saved, until the total cost meets
// the budget. Per-layer losses are assumed to add (they do, to first order,
// for output noise powers).
#ifndef ONNXC_ANALYSIS_BUDGET_SEARCH_H_
#define ONNXC_ANALYSIS_BUDGET_SEARCH_H_

#include <vector>

namespace onnxc {

struct BudgetOption {
  double cost = 0;  // e.g. multiply-adds of the layer with this option
  double loss = 0;  // e.g. output noise / signal with only this layer changed
};

struct BudgetChoice {
  std::vector<int> option;  // per layer, the index chosen (0: the first, unchanged)
  double cost = 0, loss = 0;
  bool met = false;
};

// `layers[i][0]` is layer i unchanged; other options may come in any order.
// `fixed_cost` is what no option changes (layers not searched). Stops as soon
// as fixed_cost + sum of chosen costs <= budget; if no step is left, returns
// the cheapest reachable choice with met = false.
BudgetChoice GreedyBudgetSearch(const std::vector<std::vector<BudgetOption>>& layers, double fixed_cost,
                                double budget);

}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_BUDGET_SEARCH_H_
