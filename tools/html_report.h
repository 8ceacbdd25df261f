// A self-contained HTML rendering of compress's JSON report: the per-pass
// table, and when present a per-layer sensitivity bar chart (layer-sensitivity)
// and the fallback search steps. Inline SVG and CSS only; no scripts.
#ifndef ONNXC_TOOLS_HTML_REPORT_H_
#define ONNXC_TOOLS_HTML_REPORT_H_

#include <string>

#include "nlohmann/json.hpp"

namespace onnxc {

std::string RenderHtmlReport(const nlohmann::json& report);

// "R.json" -> "R.html"; any other name gets ".html" appended.
std::string HtmlReportPath(const std::string& json_path);

}  // namespace onnxc

#endif  // ONNXC_TOOLS_HTML_REPORT_H_
