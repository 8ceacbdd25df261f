// Weight-only quantization of a matrix in blocks along its input axis, as
// MatMulNBits stores it: per output row n and block b of `block` inputs, a
// scale and a zero point; codes in [0, 2^bits - 1]. Two ways to choose the
// codes: round to nearest (RTN), or GPTQ (Frantar et al. 2023), which
// quantizes the input columns in order and pushes each one's rounding error
// onto the columns not yet quantized through the inverse Gram matrix of the
// layer's calibration inputs (analysis/layer_statistics), so the layer's
// output on those inputs changes least. A block's scale and zero point are
// chosen (RTN's rule) from its weights as GPTQ has updated them when it
// reaches the block, as the reference's group-wise quantizer does.
#ifndef ONNXC_PASSES_QUANTIZATION_BLOCK_QUANTIZER_H_
#define ONNXC_PASSES_QUANTIZATION_BLOCK_QUANTIZER_H_

#include <cstdint>
#include <vector>

#include "Eigen/Dense"
#include "absl/status/statusor.h"

namespace onnxc {

struct BlockFormat {
  int bits = 4;
  int64_t block = 128;
  bool symmetric = true;  // ORT's 4-bit convention: the block's extreme maps to -2^(bits-1)
};

struct BlockCodes {
  int64_t rows = 0, cols = 0, blocks = 0;
  std::vector<uint8_t> codes;        // rows x cols
  std::vector<float> scales;         // rows x blocks
  std::vector<uint8_t> zero_points;  // rows x blocks
  double max_error = 0;              // max |dequantized - original|
  // The dequantized weight of row n, column k.
  double Value(int64_t n, int64_t k, int64_t block) const {
    int64_t b = k / block;
    return (static_cast<int>(codes[n * cols + k]) - zero_points[n * blocks + b]) * static_cast<double>(scales[n * blocks + b]);
  }
};

// `w`: outputs x inputs.
BlockCodes QuantizeBlocksRtn(const Eigen::MatrixXd& w, const BlockFormat& f);
// `h`: the inputs' Gram matrix (inputs x inputs). Damping as GPTQ's 0.01.
absl::StatusOr<BlockCodes> QuantizeBlocksGptq(const Eigen::MatrixXd& w, const Eigen::MatrixXd& h, const BlockFormat& f,
                                              double damp = 0.01);

// AWQ (Lin et al. 2024): input channels that carry large activations matter
// most, so before RTN the weight's input columns are multiplied by
// s_k = rms_k^alpha (rms_k = sqrt(H_kk / rows), the channel's activation
// RMS; normalised so that max(s) min(s) = 1), and the input is divided by s
// at run time. alpha is searched on a grid of 21 values in [0, 1] for the
// least output error tr((W - W') H (W - W')^T), W' the dequantized weight
// with s divided out; alpha = 0 is RTN itself, so AWQ never does worse on
// the calibration inputs.
struct AwqCodes {
  BlockCodes codes;             // of W diag(s)
  Eigen::VectorXd input_scale;  // s (inputs must be divided by it)
  double alpha = 0;
  double error_rtn = 0, error_awq = 0;  // relative output errors on the calibration inputs
};
AwqCodes QuantizeBlocksAwq(const Eigen::MatrixXd& w, const Eigen::MatrixXd& h, int64_t rows, const BlockFormat& f);

}  // namespace onnxc

#endif  // ONNXC_PASSES_QUANTIZATION_BLOCK_QUANTIZER_H_
