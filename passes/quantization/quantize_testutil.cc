#include "passes/quantization/quantize_testutil.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "ir/export.h"
#include "ir/import.h"
#include "ir/verifier.h"
#include "passes/pass/pass_manager.h"
#include "passes/quantization/quantization_run_settings.h"

namespace onnxc {

namespace fs = std::filesystem;

std::string Gen(const std::string& rel) { return GeneratedTestdataDir() + "/" + rel; }
std::string Tmp(const std::string& name) { return ::testing::TempDir() + "/" + name; }

absl::StatusOr<QuantizeRun> Quantize(const std::string& input, const std::string& calib, const std::string& options,
                                     const std::string& tag, bool fake_quant, bool require_checker) {
  auto model = LoadModel(input);
  if (!model.ok()) return model.status();
  auto pm = PassManager::Create("optimize,quantize" + options);
  if (!pm.ok()) return pm.status();
  QuantizeRun r{Tmp(tag + ".onnx"), Tmp(tag + ".quant_record.pbtxt"), fake_quant ? Tmp(tag + ".fake.onnx") : ""};
  RunSettings settings;
  settings.calibration.data = calib;
  QuantizationRunSettings family;
  family.record_path = r.record;
  if (fake_quant) family.fake_quant_path = r.fake_quant;
  settings.families.Set(family);
  PassContext ctx;
  ctx.settings = &settings;
  absl::Status s = (*pm)->Run(**model, ctx);
  if (!s.ok()) return s;
  s = VerifyModel(**model);
  if (!s.ok()) return s;
  bool ran = false;
  s = CheckWithOnnx(**model, &ran);
  if (!s.ok()) return s;
  if (!ran && require_checker) return absl::InternalError("the ONNX checker did not run");
  s = SaveModel(**model, r.output);
  if (!s.ok()) return s;
  return r;
}

absl::StatusOr<PipelineRun> RunPipelineOn(const std::string& name, const std::string& pipeline, const std::string& tag,
                                          RunSettings settings) {
  return RunPipelineOnFile(Gen(name + "/model.onnx"), Gen(name + "/calib"), pipeline, Tmp(tag + ".onnx"),
                           std::move(settings));
}

absl::StatusOr<PipelineRun> RunPipelineOnFile(const std::string& input, const std::string& calib,
                                              const std::string& pipeline, const std::string& output,
                                              RunSettings settings) {
  auto model = LoadModel(input);
  if (!model.ok()) return model.status();
  auto pm = PassManager::Create(pipeline);
  if (!pm.ok()) return pm.status();
  settings.calibration.data = calib;
  PassContext ctx;
  ctx.settings = &settings;
  absl::Status s = (*pm)->Run(**model, ctx);
  if (!s.ok()) return s;
  bool ran = false;
  s = CheckWithOnnx(**model, &ran);
  if (!s.ok()) return s;
  if (!ran) return absl::InternalError("the ONNX checker did not run");
  PipelineRun r{output, (*pm)->Summary(), (*pm)->ReportJson()};
  s = SaveModel(**model, r.output);
  if (!s.ok()) return s;
  return r;
}

absl::StatusOr<LabeledImages> FashionMnistTestSet(int64_t n) {
  auto images = ReadNpy(Gen("fmnist/test_images.npy"), n);
  if (!images.ok()) return images.status();
  auto labels = ReadNpy(Gen("fmnist/test_labels.npy"), n);
  if (!labels.ok()) return labels.status();
  return LabeledImages{*std::move(images), *std::move(labels)};
}

double OrtTop1(const std::string& model, const Tensor& images, const Tensor& labels, Tensor* logits) {
  auto out = RunWithOrt(model, {{"input", images}});
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return 0;
  if (logits) *logits = (*out)[0].tensor;
  return Top1((*out)[0].tensor, labels);
}

absl::StatusOr<Tensor> ReadNpy(const std::string& path, int64_t max_rows) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError("cannot read " + path);
  char magic[8];
  f.read(magic, 8);
  if (std::string(magic + 1, 5) != "NUMPY") return absl::InvalidArgumentError(path + " is not .npy");
  uint32_t hlen = 0;
  if (magic[6] == 1) {
    uint16_t h;
    f.read(reinterpret_cast<char*>(&h), 2);
    hlen = h;
  } else {
    f.read(reinterpret_cast<char*>(&hlen), 4);
  }
  std::string header(hlen, ' ');
  f.read(header.data(), hlen);
  bool f32 = header.find("'<f4'") != std::string::npos, i64 = header.find("'<i8'") != std::string::npos;
  if (!f32 && !i64) return absl::InvalidArgumentError(path + ": unsupported dtype " + header);
  size_t a = header.find("'shape': (") + 10, b = header.find(')', a);
  std::vector<int64_t> dims;
  std::stringstream ss(header.substr(a, b - a));
  for (std::string d; std::getline(ss, d, ',');)
    if (d.find_first_not_of(' ') != std::string::npos) dims.push_back(std::stoll(d));
  if (dims.empty()) return absl::InvalidArgumentError(path + ": no shape");
  dims[0] = std::min(dims[0], max_rows);
  Tensor t(f32 ? onnx::TensorProto::FLOAT : onnx::TensorProto::INT64, dims);
  f.read(reinterpret_cast<char*>(t.mutable_data<char>()), static_cast<std::streamsize>(t.byte_size()));
  if (!f) return absl::DataLossError(path + " is truncated");
  return t;
}

double Top1(const Tensor& logits, const Tensor& labels) {
  int64_t n = logits.dims()[0], k = logits.dims()[1], correct = 0;
  const float* y = logits.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j)
      if (y[i * k + j] > y[i * k + best]) best = j;
    correct += best == labels.data<int64_t>()[i];
  }
  return static_cast<double>(correct) / n;
}

absl::StatusOr<QuantizationRecord> ReadRecord(const std::string& path) {
  std::ifstream f(path);
  if (!f) return absl::NotFoundError("no record " + path);
  std::stringstream s;
  s << f.rdbuf();
  QuantizationRecord r;
  if (!google::protobuf::TextFormat::ParseFromString(s.str(), &r)) return absl::InvalidArgumentError("bad record");
  return r;
}

absl::StatusOr<std::map<std::string, int>> OrtFusedOps(const std::string& model, const std::string& save) {
  std::string out = model + ".fused.txt";
  std::string cmd = OrtNodeCommand() + " '" + OrtDir() + "/fused_ops.js' '" + model + "' --opt all" +
                    (save.empty() ? "" : " --save '" + save + "'") + " > '" + out + "' 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream f(out);
  std::string line, all;
  for (std::string l; std::getline(f, l);) {
    all += l + "\n";
    if (!l.empty() && l[0] == '{') line = l;
  }
  if (rc != 0 || line.empty()) return absl::InternalError("fused_ops.js failed on " + model + ": " + all);
  std::map<std::string, int> counts;
  // {"QLinearConv":3,"Flatten":1}
  for (size_t p = line.find('"'); p != std::string::npos; p = line.find('"', p)) {
    size_t e = line.find('"', p + 1);
    std::string op = line.substr(p + 1, e - p - 1);
    size_t c = line.find(':', e);
    counts[op] = std::stoi(line.substr(c + 1));
    p = line.find_first_of(",}", c);
    if (p == std::string::npos) break;
  }
  return counts;
}

absl::StatusOr<TensorDiff> OrtDiff(const std::string& name, const std::string& quantized, const std::string& set,
                                   const OrtOptions& options) {
  auto in = ReadTensorPbSeries(Gen(name + "/" + set), "input");
  if (!in.ok()) return in.status();
  auto ref = RunWithOrt(Gen(name + "/model.onnx"), *in);
  if (!ref.ok()) return ref.status();
  auto out = RunWithOrt(quantized, *in, options);
  if (!out.ok()) return out.status();
  return CompareTensors((*ref)[0].tensor, (*out)[0].tensor);
}

}  // namespace onnxc
