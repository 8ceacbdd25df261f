#include "analysis/budget_search.h"

#include <algorithm>
#include <cstddef>
#include <limits>

namespace onnxc {

BudgetChoice GreedyBudgetSearch(const std::vector<std::vector<BudgetOption>>& layers, double fixed_cost,
                                double budget) {
  BudgetChoice c;
  c.option.assign(layers.size(), 0);
  c.cost = fixed_cost;
  for (const auto& l : layers)
    if (!l.empty()) {
      c.cost += l[0].cost;
      c.loss += l[0].loss;
    }
  while (c.cost > budget) {
    // The step (layer, option) with the least added loss per cost saved.
    double best = std::numeric_limits<double>::infinity(), best_saved = 0;
    int best_layer = -1, best_option = -1;
    for (size_t i = 0; i < layers.size(); ++i) {
      const BudgetOption& now = layers[i][c.option[i]];
      for (size_t k = 0; k < layers[i].size(); ++k) {
        double saved = now.cost - layers[i][k].cost;
        if (saved <= 0) continue;
        double rate = std::max(0.0, layers[i][k].loss - now.loss) / saved;
        if (rate < best || (rate == best && saved > best_saved)) {  // ties: the bigger step
          best = rate;
          best_saved = saved;
          best_layer = static_cast<int>(i);
          best_option = static_cast<int>(k);
        }
      }
    }
    if (best_layer < 0) return c;  // nothing cheaper left
    c.cost -= layers[best_layer][c.option[best_layer]].cost - layers[best_layer][best_option].cost;
    c.loss += layers[best_layer][best_option].loss - layers[best_layer][c.option[best_layer]].loss;
    c.option[best_layer] = best_option;
  }
  // Greedy steps cannot be undone; give back what the last big step
  // overshot: move layers to dearer, less lossy options while the budget holds.
  for (;;) {
    double best_gain = 0;
    int best_layer = -1, best_option = -1;
    for (size_t i = 0; i < layers.size(); ++i) {
      const BudgetOption& now = layers[i][c.option[i]];
      for (size_t k = 0; k < layers[i].size(); ++k) {
        const BudgetOption& o = layers[i][k];
        double gain = now.loss - o.loss;
        if (gain > best_gain && c.cost - now.cost + o.cost <= budget) {
          best_gain = gain;
          best_layer = static_cast<int>(i);
          best_option = static_cast<int>(k);
        }
      }
    }
    if (best_layer < 0) break;
    const BudgetOption& now = layers[best_layer][c.option[best_layer]];
    c.cost += layers[best_layer][best_option].cost - now.cost;
    c.loss -= best_gain;
    c.option[best_layer] = best_option;
  }
  c.met = true;
  return c;
}

}  // namespace onnxc
