#include "tools/html_report.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace onnxc {
namespace {

std::string Esc(const std::string& s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

std::string Str(const nlohmann::json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "";
  return j.dump();
}

double Num(const nlohmann::json& j, double def = 0) { return j.is_number() ? j.get<double>() : def; }

// One horizontal bar chart: a row per layer, worst first.
std::string BarChart(const std::string& title, const std::vector<std::pair<std::string, double>>& rows,
                     const std::string& unit, const std::string& color, const std::string& fmt) {
  if (rows.empty()) return "";
  const int label_w = 330, bar_w = 520, row_h = 18, top = 28;
  double lo = rows[0].second, hi = rows[0].second;
  for (const auto& r : rows) {
    lo = std::min(lo, r.second);
    hi = std::max(hi, r.second);
  }
  // Bars grow with the error: length ~ (hi - value), so the worst layer is longest.
  double span = hi - lo;
  if (span <= 0) span = std::max(1e-12, std::fabs(hi) * 1e-6);
  int h = top + row_h * static_cast<int>(rows.size()) + 10;
  std::string svg = absl::StrFormat(
      "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif' font-size='11'>"
      "<text x='0' y='16' font-size='13' font-weight='bold'>%s</text>",
      label_w + bar_w + 120, h, Esc(title));
  for (size_t i = 0; i < rows.size(); ++i) {
    double v = rows[i].second;
    double frac = 0.05 + 0.95 * (hi - v) / span;
    int y = top + row_h * static_cast<int>(i);
    std::string label = rows[i].first;
    if (label.size() > 52) label = "…" + label.substr(label.size() - 51);
    absl::StrAppend(&svg, absl::StrFormat("<text x='%d' y='%d' text-anchor='end'>%s</text>", label_w - 6, y + 12,
                                          Esc(label)));
    absl::StrAppend(&svg, absl::StrFormat("<rect x='%d' y='%d' width='%.1f' height='%d' fill='%s'/>", label_w, y + 2,
                                          frac * bar_w, row_h - 4, color));
    absl::StrAppend(&svg, absl::StrFormat("<text x='%.1f' y='%d'>%s %s</text>", label_w + frac * bar_w + 4, y + 12,
                                          absl::StrFormat("%.1f", v),
                                          Esc(unit)));
    if (fmt == "cos") {
      // replace the last value text with a precise cosine
      size_t p = svg.rfind("<text");
      svg.resize(p);
      absl::StrAppend(&svg, absl::StrFormat("<text x='%.1f' y='%d'>%.7f</text>", label_w + frac * bar_w + 4, y + 12, v));
    }
  }
  absl::StrAppend(&svg, "</svg>");
  return svg;
}

// A fallback decision list, [{node, reason}, ...], as a two-column table.
std::string NodeReasonTable(const std::string& heading, const nlohmann::json& nodes) {
  std::string h = absl::StrCat("<table><tr><th>", Esc(heading), "</th><th>reason</th></tr>");
  for (const auto& k : nodes)
    absl::StrAppend(&h, "<tr><td>", Esc(Str(k["node"])), "</td><td>", Esc(Str(k["reason"])), "</td></tr>");
  return h + "</table>";
}

std::string StepsChart(const nlohmann::json& search) {
  const auto& steps = search["steps"];
  if (!steps.is_array() || steps.empty()) return "";
  const int w = 640, h = 260, l = 70, r = 20, t = 30, b = 40;
  int kmax = std::max(1, static_cast<int>(Num(search["k_max"], 1)));
  double target = Num(search["target"]);
  bool sqnr = Str(search["metric"]).find("SQNR") != std::string::npos;
  double lo = target, hi = target, finite_max = target;
  for (const auto& s : steps)
    if (Num(s["metric"]) < 150) finite_max = std::max(finite_max, Num(s["metric"]));
  const double cap = finite_max + std::max(1.0, 0.15 * std::fabs(finite_max - target) + 2);  // identical outputs
  for (const auto& s : steps) {
    double m = Num(s["metric"]);
    if (sqnr && m > cap) m = cap;
    lo = std::min(lo, m);
    hi = std::max(hi, m);
  }
  if (hi - lo <= 0) hi = lo + 1;
  double pad = (hi - lo) * 0.08;
  lo -= pad;
  hi += pad;
  auto X = [&](double k) { return l + (w - l - r) * k / kmax; };
  auto Y = [&](double m) { return t + (h - t - b) * (hi - m) / (hi - lo); };
  std::string svg = absl::StrFormat(
      "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif' font-size='11'>"
      "<text x='0' y='16' font-size='13' font-weight='bold'>fallback search: %s vs k, the ranked layers moved (order of "
      "evaluation numbered)</text>"
      "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#444'/><line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#444'/>",
      w, h, Esc(Str(search["metric"])), l, h - b, w - r, h - b, l, t, l, h - b);
  absl::StrAppend(&svg, absl::StrFormat("<line x1='%d' y1='%.1f' x2='%d' y2='%.1f' stroke='#c00' "
                                        "stroke-dasharray='5,4'/><text x='%d' y='%.1f' fill='#c00'>target %.6g</text>",
                                        l, Y(target), w - r, Y(target), l + 4, Y(target) - 4, target));
  absl::StrAppend(&svg, absl::StrFormat("<text x='%d' y='%d'>0</text><text x='%.1f' y='%d'>k=%d</text>", l - 3,
                                        h - b + 14, X(kmax) - 20, h - b + 14, kmax));
  absl::StrAppend(&svg, absl::StrFormat("<text x='4' y='%.1f'>%.6g</text><text x='4' y='%.1f'>%.6g</text>", Y(hi) + 10,
                                        hi, Y(lo), lo));
  int i = 0;
  for (const auto& s : steps) {
    double m = Num(s["metric"]);
    if (sqnr && m > cap) m = cap;
    bool met = s["met"].is_boolean() && s["met"].get<bool>();
    double x = X(Num(s["k"])), y = Y(m);
    absl::StrAppend(&svg, absl::StrFormat("<circle cx='%.1f' cy='%.1f' r='5' fill='%s'/><text x='%.1f' y='%.1f'>%d: "
                                          "k=%d</text>",
                                          x, y, met ? "#2a2" : "#d60", x + 7, y - 6, ++i,
                                          static_cast<int>(Num(s["k"]))));
  }
  absl::StrAppend(&svg, "</svg>");
  return svg;
}

}  // namespace

std::string HtmlReportPath(const std::string& json_path) {
  if (json_path.size() > 5 && json_path.substr(json_path.size() - 5) == ".json")
    return json_path.substr(0, json_path.size() - 5) + ".html";
  return json_path + ".html";
}

std::string RenderHtmlReport(const nlohmann::json& j) {
  std::string h =
      "<!DOCTYPE html><html><head><meta charset='utf-8'><title>onnxcompress report</title><style>"
      "body{font-family:sans-serif;margin:20px;color:#222}table{border-collapse:collapse;margin:8px 0}"
      "td,th{border:1px solid #ccc;padding:3px 8px;font-size:12px;vertical-align:top}th{background:#eee}"
      "td.n{text-align:right}.notes{color:#555;font-size:11px;white-space:pre-wrap}"
      ".loud{color:#fff;background:#c00;padding:6px;font-weight:bold}.ok{color:#161}"
      "</style></head><body><h1>onnxcompress report</h1>";
  absl::StrAppend(&h, "<p><b>pipeline</b> <code>", Esc(Str(j["pipeline"])), "</code></p>");
  if (j.contains("input") && j.contains("output")) {
    double ib = Num(j["input"]["bytes"]), ob = Num(j["output"]["bytes"]);
    absl::StrAppend(&h, absl::StrFormat(
                            "<p>%s (%.0f bytes, %.0f nodes) &rarr; %s (%.0f bytes, %.0f nodes): %.2fx smaller</p>",
                            Esc(Str(j["input"]["path"])), ib, Num(j["input"]["nodes"]), Esc(Str(j["output"]["path"])),
                            ob, Num(j["output"]["nodes"]), ob > 0 ? ib / ob : 0.0));
  }

  // Per-pass table.
  absl::StrAppend(&h, "<h2>Passes</h2><table><tr><th>pass</th><th>changes</th><th>nodes</th><th>ms</th>"
                      "<th>notes</th></tr>");
  for (const auto& p : j["passes"]) {
    std::string notes;
    int n = 0;
    for (const auto& note : p["notes"]) {
      if (++n > 12) {
        absl::StrAppend(&notes, "… (", p["notes"].size() - 12, " more in the JSON)\n");
        break;
      }
      absl::StrAppend(&notes, Esc(Str(note)), "\n");
    }
    std::string spelling = Str(p["spelling"]);
    if (p.contains("iteration")) absl::StrAppend(&spelling, " [round ", Str(p["iteration"]), "]");
    absl::StrAppend(&h, absl::StrFormat("<tr><td><code>%s</code></td><td class='n'>%s</td><td class='n'>%s &rarr; "
                                        "%s</td><td class='n'>%.1f</td><td class='notes'>%s</td></tr>",
                                        Esc(spelling), Str(p["changes"]), Str(p["nodes_before"]),
                                        Str(p["nodes_after"]), Num(p["seconds"]) * 1e3, notes));
  }
  absl::StrAppend(&h, "</table>");
  if (j.contains("analyses_computed")) {
    absl::StrAppend(&h, "<p><b>analyses computed</b>: ");
    for (const auto& a : j["analyses_computed"])
      absl::StrAppend(&h, Esc(Str(a["analysis"])), absl::StrFormat(" (%.1f ms); ", Num(a["seconds"]) * 1e3));
    absl::StrAppend(&h, "</p>");
  }

  for (const auto& p : j["passes"]) {
    if (p["pass"] == "layer-sensitivity" && p.contains("details") && p["details"].contains("layers")) {
      const auto& d = p["details"];
      absl::StrAppend(&h, "<h2>Layer sensitivity</h2><p>", Str(d["samples"]),
                      " samples; each layer quantized alone; ranked by <b>", Esc(Str(d["rank_by"])),
                      "</b>, worst first. Longer bar = more error.</p>");
      std::vector<std::pair<std::string, double>> sq, cs, lc;
      for (const auto& l : d["layers"]) {
        if (!l.contains("output")) continue;
        std::string name = Str(l["node"]) + " (" + Str(l["op_type"]) + ")";
        sq.emplace_back(name, Num(l["output"]["sqnr_db"]));
        cs.emplace_back(name, Num(l["output"]["cosine"], 1));
        lc.emplace_back(name, Num(l["layer"]["cosine"], 1));
      }
      absl::StrAppend(&h, BarChart("output SQNR (dB), only this layer quantized", sq, "dB", "#4a7bd0", "f"), "<br>");
      absl::StrAppend(&h, BarChart("output cosine, only this layer quantized", cs, "", "#d08a4a", "cos"), "<br>");
      absl::StrAppend(&h, BarChart("cosine at the layer's own output (AMCT's measure)", lc, "", "#8a5ad0", "cos"));
      absl::StrAppend(&h, "<table><tr><th>rank</th><th>node</th><th>op</th><th>out SQNR dB</th><th>out cosine</th>"
                          "<th>out MSE</th><th>layer cosine</th><th>layer SQNR dB</th><th>note</th></tr>");
      for (const auto& l : d["layers"]) {
        if (!l.contains("output")) {
          absl::StrAppend(&h, "<tr><td></td><td>", Esc(Str(l["node"])), "</td><td>", Esc(Str(l["op_type"])),
                          "</td><td colspan=5></td><td>", Esc(Str(l.value("note", nlohmann::json("")))), "</td></tr>");
          continue;
        }
        absl::StrAppend(&h, absl::StrFormat("<tr><td class='n'>%s</td><td>%s</td><td>%s</td><td class='n'>%.2f</td>"
                                            "<td class='n'>%.7f</td><td class='n'>%.3g</td><td class='n'>%.7f</td>"
                                            "<td class='n'>%.2f</td><td>%s</td></tr>",
                                            Str(l["rank"]), Esc(Str(l["node"])), Esc(Str(l["op_type"])),
                                            Num(l["output"]["sqnr_db"]), Num(l["output"]["cosine"]),
                                            Num(l["output"]["mse"]), Num(l["layer"]["cosine"]),
                                            Num(l["layer"]["sqnr_db"]),
                                            Esc(Str(l.value("note", nlohmann::json(""))))));
      }
      absl::StrAppend(&h, "</table>");
    }
    if (p["pass"] == "sparsify" && p.contains("details") && p["details"].contains("layers")) {
      const auto& d = p["details"];
      absl::StrAppend(&h, "<h2>Sparsity <code>", Esc(Str(p["spelling"])), "</code></h2><p>pattern <b>",
                      Esc(Str(d["pattern"])), "</b>, method <b>", Esc(Str(d["method"])), "</b>, ",
                      Str(d["layers"].size()), " layers sparsified, ", Str(d["skipped"].size()),
                      " left dense. Longer bar = more error.</p>");
      std::vector<std::pair<std::string, double>> layer_sqnr, weight_sqnr;
      for (const auto& l : d["layers"]) {
        std::string name = Str(l["node"]) + " (" + Str(l["op_type"]) + ")";
        if (l.contains("layer_sqnr_db")) layer_sqnr.emplace_back(name, Num(l["layer_sqnr_db"]));
        weight_sqnr.emplace_back(name, Num(l["weight_sqnr_db"]));
      }
      absl::StrAppend(&h, BarChart("layer output SQNR after pruning, on calibration data (dB)", layer_sqnr, "dB",
                                   "#4a7bd0", "f"), "<br>");
      absl::StrAppend(&h, BarChart("weight SQNR after pruning (dB)", weight_sqnr, "dB", "#d08a4a", "f"));
      absl::StrAppend(&h, "<table><tr><th>node</th><th>op</th><th>weight shape</th><th>axis</th><th>zero</th>"
                          "<th>layer SQNR dB</th><th>weight SQNR dB</th><th>method</th></tr>");
      for (const auto& l : d["layers"])
        absl::StrAppend(&h, absl::StrFormat("<tr><td>%s</td><td>%s</td><td>%s</td><td class='n'>%s</td>"
                                            "<td class='n'>%.1f%%</td><td class='n'>%s</td><td class='n'>%.1f</td>"
                                            "<td>%s</td></tr>",
                                            Esc(Str(l["node"])), Esc(Str(l["op_type"])), Esc(l["shape"].dump()),
                                            Str(l["axis"]), 100 * Num(l["sparsity"]),
                                            l.contains("layer_sqnr_db") ? absl::StrFormat("%.1f", Num(l["layer_sqnr_db"]))
                                                                        : std::string(""),
                                            Num(l["weight_sqnr_db"]), Esc(Str(l["method"]))));
      for (const auto& l : d["skipped"])
        absl::StrAppend(&h, "<tr><td>", Esc(Str(l["node"])), "</td><td colspan=7>dense: ", Esc(Str(l["reason"])),
                        "</td></tr>");
      absl::StrAppend(&h, "</table>");
    }
    if (p["pass"] == "decompose" && p.contains("details") && p["details"].contains("layers")) {
      const auto& d = p["details"];
      absl::StrAppend(&h, "<h2>Decomposition <code>", Esc(Str(p["spelling"])), "</code></h2><p>multiply-adds of "
                      "Conv/Gemm/MatMul: ", Str(d["macs_before"]), " &rarr; ", Str(d["macs_after"]),
                      ". Longer bar = more error.</p>");
      std::vector<std::pair<std::string, double>> kept, sqnr;
      for (const auto& l : d["layers"]) {
        if (l["rank"].is_null()) continue;
        std::string name = Str(l["node"]) + " (rank " + Str(l["rank"]) + " of " + Str(l["full_rank"]) + ")";
        // Bars grow as values fall: share of the layer's MACs removed shows as (100 - kept%).
        kept.emplace_back(name, 100.0 * Num(l["macs_after"]) / std::max(1.0, Num(l["macs_before"])));
        sqnr.emplace_back(name, l.contains("layer_sqnr_db") ? Num(l["layer_sqnr_db"]) : Num(l["weight_sqnr_db"]));
      }
      absl::StrAppend(&h, BarChart("multiply-adds kept, % of the layer (longer = more removed)", kept, "%", "#5a9a5a", "f"), "<br>");
      absl::StrAppend(&h, BarChart("layer output SQNR on calibration data with refine, else weight SQNR (dB)", sqnr, "dB",
                                   "#4a7bd0", "f"));
      absl::StrAppend(&h, "<table><tr><th>node</th><th>rank</th><th>why</th><th>MACs before</th><th>after</th>"
                          "<th>params before</th><th>after</th><th>weight SQNR dB</th><th>layer SQNR dB</th></tr>");
      for (const auto& l : d["layers"])
        absl::StrAppend(&h, "<tr><td>", Esc(Str(l["node"])), "</td><td class='n'>", Str(l["rank"]), "</td><td>",
                        Esc(Str(l.value("note", l["why"]))), "</td><td class='n'>", Str(l["macs_before"]),
                        "</td><td class='n'>", Str(l.value("macs_after", nlohmann::json(""))), "</td><td class='n'>",
                        Str(l.value("params_before", nlohmann::json(""))), "</td><td class='n'>",
                        Str(l.value("params_after", nlohmann::json(""))), "</td><td class='n'>",
                        l.contains("weight_sqnr_db") ? absl::StrFormat("%.1f", Num(l["weight_sqnr_db"])) : "",
                        "</td><td class='n'>",
                        l.contains("layer_sqnr_db") ? absl::StrFormat("%.1f", Num(l["layer_sqnr_db"])) : "",
                        "</td></tr>");
      for (const auto& l : d["skipped"])
        absl::StrAppend(&h, "<tr><td>", Esc(Str(l["node"])), "</td><td colspan=8>kept: ", Esc(Str(l["reason"])),
                        "</td></tr>");
      absl::StrAppend(&h, "</table>");
    }
    if (p["pass"] == "smooth-quant" && p.contains("details") && p["details"].contains("inputs")) {
      const auto& d = p["details"];
      absl::StrAppend(&h, "<h2>SmoothQuant <code>", Esc(Str(p["spelling"])), "</code></h2><p>", Str(d["folded"]),
                      " inputs folded into the op before, ", Str(d["muls"]), " through a Mul, ", Str(d["unchanged"]),
                      " left. Spread = largest / median per-channel activation maximum.</p>");
      std::vector<std::pair<std::string, double>> before, after, gain;
      for (const auto& e : d["inputs"]) {
        const std::string name = Str(e["input"]);
        before.emplace_back(name, Num(e["spread_before"], 1));
        after.emplace_back(name, Num(e.value("spread_after", e["spread_before"]), 1));
        const double a = Num(e["predicted_noise_before"]), b = Num(e.value("predicted_noise_after", e["predicted_noise_before"]));
        gain.emplace_back(name, a > 0 && b > 0 ? 10 * std::log10(a / b) : 0.0);
      }
      absl::StrAppend(&h, BarChart("activation spread before", before, "x", "#d08a4a", "f"), "<br>");
      absl::StrAppend(&h, BarChart("activation spread after", after, "x", "#4a7bd0", "f"), "<br>");
      absl::StrAppend(&h, BarChart("predicted int8 noise reduction (dB)", gain, "dB", "#5a9a5a", "f"));
      absl::StrAppend(&h, "<table><tr><th>input</th><th>layers</th><th>alpha</th><th>how</th></tr>");
      for (const auto& e : d["inputs"])
        absl::StrAppend(&h, "<tr><td>", Esc(Str(e["input"])), "</td><td class='n'>", Str(e["layers"]),
                        "</td><td class='n'>", e.contains("alpha") ? absl::StrFormat("%.2f", Num(e["alpha"])) : "",
                        "</td><td>", Esc(Str(e["how"])), "</td></tr>");
      absl::StrAppend(&h, "</table>");
    }
    if (p["pass"] == "prune-channels" && p.contains("details") && p["details"].contains("groups")) {
      const auto& d = p["details"];
      absl::StrAppend(&h, "<h2>Channel pruning <code>", Esc(Str(p["spelling"])), "</code></h2><p>multiply-adds of "
                      "Conv/Gemm/MatMul: ", Str(d["macs_before"]), " &rarr; ", Str(d["macs_after"]), ", weights ",
                      Str(d["params_before"]), " &rarr; ", Str(d["params_after"]), "; criterion <b>",
                      Esc(Str(d["criterion"])), "</b>", d["reconstruct"].get<bool>() ? ", consumers refit" : "",
                      ". Longer bar = more removed, or more error.</p>");
      if (d.contains("search") && !d["search"]["met"].get<bool>())
        absl::StrAppend(&h, "<p class='loud'>TARGET NOT MET: kept ", absl::StrFormat("%.3f", Num(d["search"]["kept_share"])),
                        " of the ", Esc(Str(d["search"]["measure"])), "</p>");
      std::vector<std::pair<std::string, double>> channels, sqnr_before, sqnr_after;
      for (const auto& g : d["groups"]) {
        if (g.contains("kept_because")) continue;
        channels.emplace_back(Str(g["group"]) + " (" + Str(g["channels_after"]) + " of " + Str(g["channels_before"]) + ")",
                              100.0 * Num(g["channels_after"]) / std::max(1.0, Num(g["channels_before"])));
      }
      for (const auto& l : d["layers"])
        if (l.contains("layer_sqnr_db_after")) {
          std::string name = Str(l["node"]) + " (" + Str(l["refit"]) + ")";
          sqnr_before.emplace_back(name, Num(l["layer_sqnr_db_before"]));
          sqnr_after.emplace_back(name, Num(l["layer_sqnr_db_after"]));
        }
      absl::StrAppend(&h, BarChart("channels kept per group, % (longer bar = more removed)", channels, "%", "#5a9a5a", "f"), "<br>");
      absl::StrAppend(&h, BarChart("refit layers: SQNR pruned, before the refit (dB; output, or input channels for channel refits)",
                                   sqnr_before, "dB", "#d08a4a", "f"), "<br>");
      absl::StrAppend(&h, BarChart("refit layers: SQNR after the refit (dB)", sqnr_after, "dB", "#4a7bd0", "f"));
      absl::StrAppend(&h, "<table><tr><th>layer</th><th>inputs</th><th>outputs</th><th>MACs before</th><th>after</th>"
                          "<th>weights before</th><th>after</th><th>refit</th><th>SQNR pruned dB</th><th>refit dB</th></tr>");
      for (const auto& l : d["layers"])
        absl::StrAppend(&h, "<tr><td>", Esc(Str(l["node"])), "</td><td class='n'>", Str(l["inputs_before"]), " &rarr; ",
                        Str(l["inputs_after"]), "</td><td class='n'>", Str(l["outputs_before"]), " &rarr; ",
                        Str(l["outputs_after"]), "</td><td class='n'>", Str(l["macs_before"]), "</td><td class='n'>",
                        Str(l["macs_after"]), "</td><td class='n'>", Str(l["params_before"]), "</td><td class='n'>",
                        Str(l["params_after"]), "</td><td>", Esc(Str(l.value("refit", l.value("note", nlohmann::json(""))))),
                        "</td><td class='n'>",
                        l.contains("layer_sqnr_db_before") ? absl::StrFormat("%.1f", Num(l["layer_sqnr_db_before"])) : "",
                        "</td><td class='n'>",
                        l.contains("layer_sqnr_db_after") ? absl::StrFormat("%.1f", Num(l["layer_sqnr_db_after"])) : "",
                        "</td></tr>");
      for (const auto& g : d["groups"])
        if (g.contains("kept_because"))
          absl::StrAppend(&h, "<tr><td>", Esc(Str(g["group"])), "</td><td colspan=9>kept whole (", Str(g["channels_before"]),
                          " channels): ", Esc(Str(g["kept_because"])), "</td></tr>");
      absl::StrAppend(&h, "</table>");
      if (d.contains("search")) {
        absl::StrAppend(&h, "<p>Sensitivity (output noise power with only that group pruned; the search adds them):</p>"
                            "<table><tr><th>group</th><th>channels: noise</th></tr>");
        for (const auto& c : d["search"]["curves"]) {
          std::string points;
          for (const auto& pt : c["points"]) absl::StrAppend(&points, Str(pt["channels"]), ": ", absl::StrFormat("%.3g", Num(pt["noise"])), " &nbsp; ");
          absl::StrAppend(&h, "<tr><td>", Esc(Str(c["group"])), " (", Str(c["channels"]), ")</td><td>", points, "</td></tr>");
        }
        absl::StrAppend(&h, "</table>");
      }
    }
    if (p["pass"] == "fallback" && p.contains("details")) {
      const auto& d = p["details"];
      const bool a16 = d.value("precision", std::string()) == "a16";  // the ranked layers go 16-bit, not float
      absl::StrAppend(&h, "<h2>Fallback <code>", Esc(Str(p["spelling"])), "</code></h2>");
      if (d.contains("search")) {
        const auto& s = d["search"];
        bool met = s["met"].is_boolean() && s["met"].get<bool>();
        if (!met)
          absl::StrAppend(&h, "<p class='loud'>TARGET NOT MET: kept the best configuration found (k=",
                          Str(s["chosen_k"]), ")</p>");
        else
          absl::StrAppend(&h, "<p class='ok'>target met with k=", Str(s["chosen_k"]), " of ", Str(s["layers_ranked"]),
                          " ranked layers ", a16 ? "given 16-bit activations" : "kept float", " (",
                          Str(s["evaluations"]), " evaluations, ", Esc(Str(s["mode"])), " search)</p>");
        absl::StrAppend(&h, StepsChart(s));
        absl::StrAppend(&h, "<table><tr><th>#</th><th>k float</th><th>adds</th><th>", Esc(Str(s["metric"])),
                        "</th><th>met</th><th>out SQNR dB</th><th>out cosine</th></tr>");
        int i = 0;
        for (const auto& st : s["steps"])
          absl::StrAppend(&h, absl::StrFormat("<tr><td>%d</td><td class='n'>%s</td><td>%s</td><td class='n'>%.7g</td>"
                                              "<td>%s</td><td class='n'>%.2f</td><td class='n'>%.7f</td></tr>",
                                              ++i, Str(st["k"]), Esc(Str(st.value("adds", nlohmann::json("")))),
                                              Num(st["metric"]), st["met"].get<bool>() ? "yes" : "no",
                                              Num(st["outputs"]["sqnr_db"]), Num(st["outputs"]["cosine"])));
        absl::StrAppend(&h, "</table>");
      }
      if (d.contains("kept_float")) absl::StrAppend(&h, NodeReasonTable("kept float", d["kept_float"]));
      if (d.contains("activations_16_bit") && !d["activations_16_bit"].empty())
        absl::StrAppend(&h, NodeReasonTable("16-bit activations, int8 weights", d["activations_16_bit"]));
    }
  }
  absl::StrAppend(&h, "</body></html>\n");
  return h;
}

}  // namespace onnxc
