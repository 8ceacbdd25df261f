// A readable text form of the IR for dumps (--dump-ir-before/after) and
// error messages. One line per node:
//   %y = Conv(%x, %w, %b) {strides=[1,1], pads=[1,1,1,1]}   # name
#ifndef ONNXC_IR_PRINTER_H_
#define ONNXC_IR_PRINTER_H_

#include <string>

#include "ir/model.h"

namespace onnxc {

std::string PrintGraph(const Graph& graph, int indent = 0);
std::string PrintModel(const Model& model);

}  // namespace onnxc

#endif  // ONNXC_IR_PRINTER_H_
