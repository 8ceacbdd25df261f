// Settings of the kernels, carried by ExecutorOptions into every kernel
// call. Defaults are what the benchmarks chose (kernels/BENCHMARK.md);
// `FromEnvironment` applies the ONNXC_DNNL_* debugging overrides, and only
// command-line tools call it: a library user sets the fields.
#ifndef ONNXC_KERNELS_KERNEL_OPTIONS_H_
#define ONNXC_KERNELS_KERNEL_OPTIONS_H_

namespace onnxc {

struct KernelOptions {
  // Convolutions and pooling through oneDNN (in the default build; the
  // built-in kernels otherwise).
  bool dnnl = true;
  // Activation layout between oneDNN convolutions. kByCpu: the block of the
  // vector width oneDNN's direct convs use, nChw16c with AVX-512 and nChw8c
  // with AVX2 only (16-channel blocks ran resnet18 at 171 ms against 106 ms
  // for nChw8c on an AVX2 EPYC, issue 11); oneDNN's choice (kAny) elsewhere.
  enum class Layout { kByCpu, kAny, kPlain, kNhwc, kBlocked8, kBlocked16 };
  Layout dnnl_layout = Layout::kByCpu;
  // Depthwise convolutions through oneDNN too.
  bool dnnl_depthwise = true;
  // Convs of at least this many flops are split over the executor's threads.
  double dnnl_split_flops = 2e6;
  // On the first run of a shape, time oneDNN against the built-in conv and
  // keep the faster one; with tune_log, print what was chosen.
  bool dnnl_tune = false;
  bool dnnl_tune_log = false;

  // How the integer kernels add u8 x s8 products (int8_gemm.h): exactly, or
  // in saturating int16 pairs as x86 CPUs without VNNI do in ONNX Runtime
  // (the output check of targets x86-avx2 and portable).
  enum class Int8Dot { kExact, kX86Int16Pairs };
  Int8Dot int8_dot = Int8Dot::kExact;

  // The channel block kByCpu stands for on this machine: 16, 8, or -1 (any).
  static int CpuChannelBlock();

  // ONNXC_DNNL_CONV=0, ONNXC_DNNL_LAYOUT=cpu|any|nchw|nhwc|nChw8c|nChw16c,
  // ONNXC_DNNL_DW=0, ONNXC_DNNL_SPLIT_FLOPS=F, ONNXC_DNNL_TUNE=1,
  // ONNXC_DNNL_TUNE_LOG=1 (see README "Kernels").
  static KernelOptions FromEnvironment();
};

}  // namespace onnxc

#endif  // ONNXC_KERNELS_KERNEL_OPTIONS_H_
