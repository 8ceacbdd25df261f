// LSTM, GRU and RNN with ONNX semantics: forward, reverse and bidirectional;
// sequence_lens (steps past a sequence's length output 0 and keep its
// state); initial and final states; clip (applied to the gate inputs before
// their activations); the activations list with activation_alpha/beta;
// LSTM peepholes and input_forget; GRU linear_before_reset; layout 0
// ([seq, batch, ...]) and 1 ([batch, seq, ...]).
//
// The input projections X W^T of all steps are one GEMM; each step adds
// H_{t-1} R^T (another GEMM) and runs the gates.
#include <cmath>
#include <string>
#include <vector>

#include "kernels/registry.h"

namespace onnxc {
namespace kernels {
namespace {

// An activation of the `activations` attribute, with its alpha and beta.
struct Activation {
  std::string name;
  float alpha = 0, beta = 0;
  float operator()(float x) const {
    if (name == "Sigmoid") return 1.0f / (1.0f + std::exp(-x));
    if (name == "Tanh") return std::tanh(x);
    if (name == "Relu") return std::max(0.0f, x);
    if (name == "Affine") return alpha * x + beta;
    if (name == "LeakyRelu") return x >= 0 ? x : alpha * x;
    if (name == "ThresholdedRelu") return x > alpha ? x : 0.0f;
    if (name == "ScaledTanh") return alpha * std::tanh(beta * x);
    if (name == "HardSigmoid") return std::max(0.0f, std::min(1.0f, alpha * x + beta));
    if (name == "Elu") return x >= 0 ? x : alpha * (std::exp(x) - 1);
    if (name == "Softsign") return x / (1 + std::fabs(x));
    if (name == "Softplus") return std::log1p(std::exp(x));
    return x;
  }
};

// Default alpha/beta of the activations that take them (ONNX's RNN docs).
void Defaults(const std::string& n, float* a, float* b) {
  if (n == "LeakyRelu") *a = 0.01f;
  else if (n == "ThresholdedRelu") *a = 1.0f;
  else if (n == "HardSigmoid") *a = 0.2f, *b = 0.5f;
  else if (n == "Elu") *a = 1.0f;
  else if (n == "ScaledTanh") *a = 1.0f, *b = 1.0f;
  else if (n == "Affine") *a = 1.0f, *b = 0.0f;
}

bool TakesAlpha(const std::string& n) {
  return n == "Affine" || n == "LeakyRelu" || n == "ThresholdedRelu" || n == "ScaledTanh" || n == "HardSigmoid" ||
         n == "Elu";
}
bool TakesBeta(const std::string& n) { return n == "Affine" || n == "ScaledTanh" || n == "HardSigmoid"; }

absl::StatusOr<std::vector<Activation>> Activations(const OpContext& c, int per_dir, int dirs,
                                                    const std::vector<std::string>& defaults) {
  std::vector<std::string> names;
  if (const Attribute* a = c.node.attr("activations"))
    for (const auto& s : a->proto().strings()) names.push_back(s);
  if (names.empty())
    for (int d = 0; d < dirs; ++d) names.insert(names.end(), defaults.begin(), defaults.end());
  if (static_cast<int>(names.size()) != per_dir * dirs)
    return c.Error(absl::StrCat("expected ", per_dir * dirs, " activations, got ", names.size()));
  std::vector<float> alphas, betas;
  if (const Attribute* a = c.node.attr("activation_alpha")) alphas = a->floats();
  if (const Attribute* a = c.node.attr("activation_beta")) betas = a->floats();
  std::vector<Activation> out;
  size_t ia = 0, ib = 0;
  for (const std::string& n : names) {
    Activation act{n};
    Defaults(n, &act.alpha, &act.beta);
    if (TakesAlpha(n) && ia < alphas.size()) act.alpha = alphas[ia++];
    if (TakesBeta(n) && ib < betas.size()) act.beta = betas[ib++];
    static const char* kKnown[] = {"Sigmoid", "Tanh", "Relu", "Affine", "LeakyRelu", "ThresholdedRelu",
                                   "ScaledTanh", "HardSigmoid", "Elu", "Softsign", "Softplus"};
    bool known = false;
    for (const char* k : kKnown) known |= n == k;
    if (!known) return c.Error(absl::StrCat("unknown activation ", n));
    out.push_back(act);
  }
  return out;
}

enum class Cell { kRnn, kGru, kLstm };

absl::Status RecurrentKernel(OpContext& c, Cell cell) {
  const int gates = cell == Cell::kLstm ? 4 : cell == Cell::kGru ? 3 : 1;
  KTensor X = ToFloat(c.input(0)), W = ToFloat(c.input(1)), R = ToFloat(c.input(2));
  const int64_t layout = c.attr_i("layout", 0);
  if (X.rank() != 3 || W.rank() != 3 || R.rank() != 3) return c.Error("X, W and R must be 3-D");
  const int64_t seq = layout ? X.dims[1] : X.dims[0], batch = layout ? X.dims[0] : X.dims[1], in = X.dims[2];
  const int64_t dirs = W.dims[0], hidden = R.dims[2];
  const std::string direction = c.attr_s("direction", "forward");
  if ((direction == "bidirectional") != (dirs == 2)) return c.Error("direction does not match W's first dim");
  if (W.dims[1] != gates * hidden || W.dims[2] != in || R.dims[1] != gates * hidden)
    return c.Error("W/R shapes do not match hidden_size and the input");
  const float clip = c.has_attr("clip") ? c.attr_f("clip", 0) : 0.0f;
  const bool lbr = cell == Cell::kGru && c.attr_i("linear_before_reset", 0) != 0;
  const bool input_forget = cell == Cell::kLstm && c.attr_i("input_forget", 0) != 0;
  const int per_dir = cell == Cell::kLstm ? 3 : cell == Cell::kGru ? 2 : 1;
  std::vector<std::string> dflt = cell == Cell::kLstm   ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
                                  : cell == Cell::kGru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                                                       : std::vector<std::string>{"Tanh"};
  auto acts = Activations(c, per_dir, static_cast<int>(dirs), dflt);
  if (!acts.ok()) return acts.status();

  KTensor B = c.has(3) ? ToFloat(c.input(3)) : KTensor();
  std::vector<int64_t> lens(batch, seq);
  if (c.has(4))
    for (int64_t b = 0; b < batch; ++b) lens[b] = std::min<int64_t>(seq, c.input(4).IntAt(b));
  KTensor H0 = c.has(5) ? ToFloat(c.input(5)) : KTensor();
  KTensor C0 = cell == Cell::kLstm && c.has(6) ? ToFloat(c.input(6)) : KTensor();
  KTensor P = cell == Cell::kLstm && c.has(7) ? ToFloat(c.input(7)) : KTensor();
  auto state_at = [&](const KTensor& s, int64_t d, int64_t b) -> const float* {
    // [dirs, batch, hidden], or [batch, dirs, hidden] with layout 1.
    return s.ptr<float>() + (layout ? (b * dirs + d) : (d * batch + b)) * hidden;
  };

  std::vector<int64_t> ydims = layout ? std::vector<int64_t>{batch, seq, dirs, hidden}
                                      : std::vector<int64_t>{seq, dirs, batch, hidden};
  std::vector<int64_t> sdims = layout ? std::vector<int64_t>{batch, dirs, hidden} : std::vector<int64_t>{dirs, batch, hidden};
  KTensor Y = KTensor::Alloc(TP::FLOAT, ydims), Yh = KTensor::Alloc(TP::FLOAT, sdims);
  KTensor Yc = KTensor::Alloc(TP::FLOAT, sdims);
  std::fill(Y.mut<float>(), Y.mut<float>() + Y.numel(), 0.0f);
  auto y_at = [&](int64_t t, int64_t d, int64_t b) {
    return Y.mut<float>() + (layout ? ((b * seq + t) * dirs + d) : ((t * dirs + d) * batch + b)) * hidden;
  };
  auto sout_at = [&](KTensor& s, int64_t d, int64_t b) {
    return s.mut<float>() + (layout ? (b * dirs + d) : (d * batch + b)) * hidden;
  };

  // X as [seq * batch, in] in (t, b) order.
  std::vector<float> x(static_cast<size_t>(seq * batch * in));
  for (int64_t t = 0; t < seq; ++t)
    for (int64_t b = 0; b < batch; ++b) {
      const float* src = X.ptr<float>() + (layout ? (b * seq + t) : (t * batch + b)) * in;
      std::copy(src, src + in, x.data() + (t * batch + b) * in);
    }
  const int64_t gh = gates * hidden;
  std::vector<float> xw(static_cast<size_t>(seq * batch * gh)), hr(static_cast<size_t>(batch * gh));
  std::vector<float> h(static_cast<size_t>(batch * hidden)), cst(static_cast<size_t>(batch * hidden));
  std::vector<float> rh(static_cast<size_t>(batch * hidden));  // GRU: r (.) H, or H R_h^T
  for (int64_t d = 0; d < dirs; ++d) {
    const bool reverse = direction == "reverse" || (direction == "bidirectional" && d == 1);
    const Activation& f = (*acts)[d * per_dir];
    const Activation& g = (*acts)[d * per_dir + (per_dir > 1 ? 1 : 0)];
    const Activation& hact = (*acts)[d * per_dir + (per_dir > 2 ? 2 : 0)];
    const float* Wd = W.ptr<float>() + d * gh * in;
    const float* Rd = R.ptr<float>() + d * gh * hidden;
    const float* wb = B.valid() ? B.ptr<float>() + d * 2 * gh : nullptr;
    const float* rb = wb ? wb + gh : nullptr;
    const float* p = P.valid() ? P.ptr<float>() + d * 3 * hidden : nullptr;
    Sgemm(false, true, seq * batch, gh, in, 1.0f, x.data(), in, Wd, in, 0.0f, xw.data(), gh);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t j = 0; j < hidden; ++j) {
        h[b * hidden + j] = H0.valid() ? state_at(H0, d, b)[j] : 0.0f;
        cst[b * hidden + j] = C0.valid() ? state_at(C0, d, b)[j] : 0.0f;
      }
    auto pre = [&](float v) { return clip > 0 ? std::max(-clip, std::min(clip, v)) : v; };
    for (int64_t step = 0; step < seq; ++step) {
      // H R^T for the whole batch (GRU's hidden gate handled below).
      Sgemm(false, true, batch, gh, hidden, 1.0f, h.data(), hidden, Rd, hidden, 0.0f, hr.data(), gh);
      for (int64_t b = 0; b < batch; ++b) {
        if (step >= lens[b]) continue;  // past this sequence: state kept, output 0
        const int64_t t = reverse ? lens[b] - 1 - step : step;
        const float* a = xw.data() + (t * batch + b) * gh;  // X W^T
        const float* r = hr.data() + b * gh;                 // H R^T
        float* hb = h.data() + b * hidden;
        float* cb = cst.data() + b * hidden;
        auto bias = [&](int gate, int64_t j) {
          return (wb ? wb[gate * hidden + j] : 0.0f) + (rb ? rb[gate * hidden + j] : 0.0f);
        };
        if (cell == Cell::kRnn) {
          for (int64_t j = 0; j < hidden; ++j) hb[j] = f(pre(a[j] + r[j] + bias(0, j)));
        } else if (cell == Cell::kLstm) {
          // Gates i, o, f, c.
          for (int64_t j = 0; j < hidden; ++j) {
            float cprev = cb[j];
            float i = f(pre(a[j] + r[j] + bias(0, j) + (p ? p[j] * cprev : 0.0f)));
            float fg = input_forget ? 1.0f - i
                                    : f(pre(a[2 * hidden + j] + r[2 * hidden + j] + bias(2, j) +
                                            (p ? p[2 * hidden + j] * cprev : 0.0f)));
            float cc = g(pre(a[3 * hidden + j] + r[3 * hidden + j] + bias(3, j)));
            float cn = fg * cprev + i * cc;
            float o = f(pre(a[hidden + j] + r[hidden + j] + bias(1, j) + (p ? p[hidden + j] * cn : 0.0f)));
            cb[j] = cn;
            rh[b * hidden + j] = o * hact(cn);  // new H (written after the loop over j)
          }
          std::copy(rh.begin() + b * hidden, rh.begin() + (b + 1) * hidden, hb);
        } else {
          // Gates z, r, h.
          std::vector<float> z(hidden), rg(hidden);
          for (int64_t j = 0; j < hidden; ++j) {
            z[j] = f(pre(a[j] + r[j] + bias(0, j)));
            rg[j] = f(pre(a[hidden + j] + r[hidden + j] + bias(1, j)));
          }
          const float* rh_w = Rd + 2 * hidden * hidden;  // R_h [hidden, hidden]
          std::vector<float> hn(hidden);
          for (int64_t j = 0; j < hidden; ++j) {
            float rec;
            if (lbr) {
              rec = rg[j] * (r[2 * hidden + j] + (rb ? rb[2 * hidden + j] : 0.0f));
            } else {
              double s = 0;
              for (int64_t k = 0; k < hidden; ++k) s += static_cast<double>(rg[k] * hb[k]) * rh_w[j * hidden + k];
              rec = static_cast<float>(s) + (rb ? rb[2 * hidden + j] : 0.0f);
            }
            float ht = g(pre(a[2 * hidden + j] + rec + (wb ? wb[2 * hidden + j] : 0.0f)));
            hn[j] = (1 - z[j]) * ht + z[j] * hb[j];
          }
          std::copy(hn.begin(), hn.end(), hb);
        }
        std::copy(hb, hb + hidden, y_at(t, d, b));
      }
    }
    for (int64_t b = 0; b < batch; ++b) {
      std::copy(h.begin() + b * hidden, h.begin() + (b + 1) * hidden, sout_at(Yh, d, b));
      std::copy(cst.begin() + b * hidden, cst.begin() + (b + 1) * hidden, sout_at(Yc, d, b));
    }
  }
  if (c.out.size() > 0) c.out[0] = std::move(Y);
  if (c.out.size() > 1) c.out[1] = std::move(Yh);
  if (c.out.size() > 2 && cell == Cell::kLstm) c.out[2] = std::move(Yc);
  return absl::OkStatus();
}

absl::Status RnnKernel(OpContext& c) { return RecurrentKernel(c, Cell::kRnn); }
absl::Status GruKernel(OpContext& c) { return RecurrentKernel(c, Cell::kGru); }
absl::Status LstmKernel(OpContext& c) { return RecurrentKernel(c, Cell::kLstm); }

ONNXC_REGISTER_KERNEL("RNN", 7, 1000, RnnKernel);
ONNXC_REGISTER_KERNEL("GRU", 7, 1000, GruKernel);
ONNXC_REGISTER_KERNEL("LSTM", 7, 1000, LstmKernel);

}  // namespace
}  // namespace kernels
}  // namespace onnxc
