// Calibration data loaders: .pb folders (ONNX test layout), .npy, .npz
// (stored and deflated), raw .bin with a shape, random data; batching,
// max_samples, rewind; clear errors naming the file and the input.
#include "analysis/calibration/calibration_data.h"
#include "analysis/calibration/npy_format.h"
#include "analysis/calibration/npz_archive.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "ir/import.h"
#include "ir/tensor_io.h"
#include "onnx/onnx_pb.h"

namespace onnxc {
namespace {

namespace fs = std::filesystem;
using onnx::TensorProto;

// A model with inputs x: FLOAT [N,3] (and y: FLOAT [N,2] when two_inputs): Relu(x).
std::unique_ptr<Model> TinyModel(bool two_inputs = false, int64_t batch = -1) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto add_input = [&](const std::string& name, int64_t cols) {
    auto* in = g->add_input();
    in->set_name(name);
    auto* tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(TensorProto::FLOAT);
    auto* d0 = tt->mutable_shape()->add_dim();
    if (batch > 0) d0->set_dim_value(batch);
    else d0->set_dim_param("N");
    tt->mutable_shape()->add_dim()->set_dim_value(cols);
  };
  add_input("x", 3);
  if (two_inputs) add_input("y", 2);
  auto* n = g->add_node();
  n->set_op_type("Relu");
  n->add_input("x");
  n->add_output("r");
  g->add_output()->set_name("r");
  auto model = ImportModel(std::move(m), ".");
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(*model);
}

Tensor Rows(int64_t rows, int64_t cols, float base, DataType type = TensorProto::FLOAT) {
  Tensor t(type, {rows, cols});
  for (int64_t i = 0; i < rows * cols; ++i) {
    if (type == TensorProto::FLOAT) t.mutable_data<float>()[i] = base + i;
    else t.mutable_data<double>()[i] = base + i;
  }
  return t;
}

std::string TempDir(const std::string& name) {
  std::string d = ::testing::TempDir() + "/" + name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// All samples' rows and first x value.
std::vector<std::pair<int64_t, float>> Drain(CalibrationData& data) {
  std::vector<std::pair<int64_t, float>> out;
  for (;;) {
    auto s = data.Next();
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok() || !s->has_value()) break;
    const auto& in = (*s)->inputs;
    EXPECT_EQ(in[0].first, "x");
    EXPECT_EQ(in[0].second.type(), TensorProto::FLOAT);
    out.push_back({(*s)->rows, in[0].second.data<float>()[0]});
  }
  return out;
}

TEST(CalibrationData, PbFolderOfTestDataSets) {
  auto model = TinyModel();
  std::string d = TempDir("pbsets");
  for (int k = 0; k < 3; ++k) {
    fs::create_directories(d + "/test_data_set_" + std::to_string(k));
    // Named by input in set 0, unnamed (by order) in the others.
    ASSERT_TRUE(WriteTensorPb(d + "/test_data_set_" + std::to_string(k) + "/input_0.pb", Rows(4, 3, 100 * k),
                              k == 0 ? "x" : "")
                    .ok());
  }
  auto data = CalibrationData::Open(*model, d);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ((*data)->size(), 12);
  EXPECT_NE((*data)->Describe().find("12 samples from folder"), std::string::npos) << (*data)->Describe();
  auto got = Drain(**data);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2], std::make_pair(int64_t{4}, 200.f));
  (*data)->Rewind();
  EXPECT_EQ(Drain(**data).size(), 3u);
  // max_samples cuts the last batch.
  auto cut = CalibrationData::Open(*model, d, 6);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ((*cut)->size(), 6);
  auto c = Drain(**cut);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[1].first, 2);
}

TEST(CalibrationData, PbFilesDirectlyInFolderAndTwoInputsByName) {
  auto model = TinyModel(true);
  std::string d = TempDir("pbdirect");
  // Written in the opposite order: names decide.
  ASSERT_TRUE(WriteTensorPb(d + "/input_0.pb", Rows(2, 2, 50), "y").ok());
  ASSERT_TRUE(WriteTensorPb(d + "/input_1.pb", Rows(2, 3, 7), "x").ok());
  auto data = CalibrationData::Open(*model, d);
  ASSERT_TRUE(data.ok()) << data.status();
  auto s = (*data)->Next();
  ASSERT_TRUE(s.ok() && s->has_value()) << s.status();
  std::map<std::string, float> first;
  for (auto& [n, t] : (*s)->inputs) first[n] = t.data<float>()[0];
  EXPECT_EQ(first["x"], 7.f);
  EXPECT_EQ(first["y"], 50.f);
}

TEST(CalibrationData, PbWithWrongNameOrShapeNamesFileAndInput) {
  auto model = TinyModel();
  std::string d = TempDir("pbbad");
  ASSERT_TRUE(WriteTensorPb(d + "/input_0.pb", Rows(2, 3, 0), "image").ok());
  auto data = CalibrationData::Open(*model, d);
  ASSERT_TRUE(data.ok());
  auto s = (*data)->Next();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(d + "/input_0.pb"), std::string::npos) << s.status();
  EXPECT_NE(s.status().message().find("'image'"), std::string::npos) << s.status();
  EXPECT_NE(s.status().message().find("'x'"), std::string::npos) << s.status();

  ASSERT_TRUE(WriteTensorPb(d + "/input_0.pb", Rows(2, 4, 0), "x").ok());
  auto data2 = CalibrationData::Open(*model, d);
  auto s2 = (*data2)->Next();
  ASSERT_FALSE(s2.ok());
  EXPECT_NE(s2.status().message().find("input_0.pb"), std::string::npos) << s2.status();
  EXPECT_NE(s2.status().message().find("'x' is FLOAT [?,3]"), std::string::npos) << s2.status();
  EXPECT_NE(s2.status().message().find("FLOAT [2,4]"), std::string::npos) << s2.status();
}

TEST(CalibrationData, NpyStackIsReadInChunks) {
  auto model = TinyModel();
  std::string d = TempDir("npy");
  ASSERT_TRUE(WriteNpy(d + "/x.npy", Rows(100, 3, 0)).ok());
  CalibrationOptions o;
  o.max_batch = 32;
  auto data = CalibrationData::Open(*model, d + "/x.npy", o);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ((*data)->size(), 100);
  auto got = Drain(**data);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0], std::make_pair(int64_t{32}, 0.f));
  EXPECT_EQ(got[1], std::make_pair(int64_t{32}, 96.f));  // row 32 starts at element 96
  EXPECT_EQ(got[3], std::make_pair(int64_t{4}, 288.f));
  (*data)->Rewind();
  auto again = Drain(**data);
  EXPECT_EQ(again, got);
  // A file with fewer rows than max_batch keeps its batch; max_samples cuts.
  auto cut = CalibrationData::Open(*model, d + "/x.npy", 40);
  auto c = Drain(**cut);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[1].first, 8);
}

TEST(CalibrationData, NpyFloat64IsConvertedAndSingleExampleGetsBatchAxis) {
  auto model = TinyModel();
  std::string d = TempDir("npy64");
  ASSERT_TRUE(WriteNpy(d + "/a.npy", Rows(5, 3, 1.5, TensorProto::DOUBLE)).ok());
  Tensor one(TensorProto::FLOAT, {3});
  one.mutable_data<float>()[0] = 42.f;
  ASSERT_TRUE(WriteNpy(d + "/b.npy", one).ok());
  auto data = CalibrationData::Open(*model, d);  // a folder of .npy: one file after another
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ((*data)->size(), 6);
  auto got = Drain(**data);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], std::make_pair(int64_t{5}, 1.5f));
  EXPECT_EQ(got[1], std::make_pair(int64_t{1}, 42.f));
}

TEST(CalibrationData, NpyWrongShapeNamesFileAndInput) {
  auto model = TinyModel();
  std::string d = TempDir("npybad");
  Tensor t(TensorProto::FLOAT, {4, 5});
  ASSERT_TRUE(WriteNpy(d + "/bad.npy", t).ok());
  auto data = CalibrationData::Open(*model, d + "/bad.npy");
  ASSERT_TRUE(data.ok());
  auto s = (*data)->Next();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("bad.npy"), std::string::npos) << s.status();
  EXPECT_NE(s.status().message().find("'x'"), std::string::npos) << s.status();
  // Rank mismatch is caught at Open.
  Tensor r3(TensorProto::FLOAT, {4, 3, 2});
  ASSERT_TRUE(WriteNpy(d + "/bad.npy", r3).ok());
  auto data2 = CalibrationData::Open(*model, d + "/bad.npy");
  ASSERT_FALSE(data2.ok());
  EXPECT_NE(data2.status().message().find("bad.npy"), std::string::npos) << data2.status();
  // Not an npy at all.
  std::ofstream(d + "/junk.npy") << "hello";
  auto junk = CalibrationData::Open(*model, d + "/junk.npy");
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.status().message().find("junk.npy"), std::string::npos) << junk.status();
}

TEST(CalibrationData, NpzByNameByOrderAndDeflated) {
  auto model = TinyModel(true);
  std::string d = TempDir("npz");
  for (bool deflate : {false, true}) {
    SCOPED_TRACE(deflate ? "deflated" : "stored");
    ASSERT_TRUE(WriteNpz(d + "/named.npz", {{"y", Rows(70, 2, 1000)}, {"x", Rows(70, 3, 0)}}, deflate).ok());
    CalibrationOptions o;
    o.max_batch = 32;
    auto data = CalibrationData::Open(*model, d + "/named.npz", o);
    ASSERT_TRUE(data.ok()) << data.status();
    EXPECT_EQ((*data)->size(), 70);
    int n = 0;
    for (;; ++n) {
      auto s = (*data)->Next();
      ASSERT_TRUE(s.ok()) << s.status();
      if (!s->has_value()) break;
      std::map<std::string, const Tensor*> by;
      for (auto& [name, t] : (*s)->inputs) by[name] = &t;
      ASSERT_EQ(by.size(), 2u);
      EXPECT_EQ(by["x"]->data<float>()[0], 96.f * n);
      EXPECT_EQ(by["y"]->data<float>()[0], 1000.f + 64.f * n);
      EXPECT_EQ(by["y"]->dims()[1], 2);
    }
    EXPECT_EQ(n, 3);
  }
  // numpy.savez(f, a, b): arr_0, arr_1 go by order.
  ASSERT_TRUE(WriteNpz(d + "/order.npz", {{"arr_0", Rows(2, 3, 5)}, {"arr_1", Rows(2, 2, 9)}}).ok());
  auto ord = CalibrationData::Open(*model, d + "/order.npz");
  ASSERT_TRUE(ord.ok()) << ord.status();
  auto s = (*ord)->Next();
  ASSERT_TRUE(s.ok() && s->has_value());
  EXPECT_EQ((*s)->inputs[0].first, "x");
  EXPECT_EQ((*s)->inputs[1].first, "y");
  // A name that is not an input, next to one that is.
  ASSERT_TRUE(WriteNpz(d + "/bad.npz", {{"x", Rows(2, 3, 0)}, {"mask", Rows(2, 2, 0)}}).ok());
  auto bad = CalibrationData::Open(*model, d + "/bad.npz");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.npz"), std::string::npos) << bad.status();
  EXPECT_NE(bad.status().message().find("'mask'"), std::string::npos) << bad.status();
  // Missing input.
  ASSERT_TRUE(WriteNpz(d + "/short.npz", {{"x", Rows(2, 3, 0)}}).ok());
  auto shrt = CalibrationData::Open(*model, d + "/short.npz");
  ASSERT_FALSE(shrt.ok());
  EXPECT_NE(shrt.status().message().find("no data for model input 'y'"), std::string::npos) << shrt.status();
  // Different row counts for the two inputs.
  ASSERT_TRUE(WriteNpz(d + "/rows.npz", {{"x", Rows(3, 3, 0)}, {"y", Rows(2, 2, 0)}}).ok());
  auto rows = CalibrationData::Open(*model, d + "/rows.npz");
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.status().message().find("rows.npz"), std::string::npos) << rows.status();
}

TEST(CalibrationData, RawBinWithShapeOrModelShape) {
  auto model = TinyModel();
  std::string d = TempDir("bin");
  Tensor t = Rows(6, 3, 0);
  std::ofstream(d + "/a.bin", std::ios::binary).write(t.raw(), t.byte_size());
  // Explicit shape: 3 batches of 2x3 in one file.
  auto data = CalibrationData::Open(*model, d + "/a.bin:2x3");
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ((*data)->size(), 6);
  auto got = Drain(**data);
  ASSERT_EQ(got.size(), 1u);  // 6 rows <= max_batch: one batch as given
  EXPECT_EQ(got[0], std::make_pair(int64_t{6}, 0.f));
  // From the model's shape [N,3].
  auto data2 = CalibrationData::Open(*model, d + "/a.bin");
  ASSERT_TRUE(data2.ok()) << data2.status();
  EXPECT_EQ((*data2)->size(), 6);
  // Via the shape option, folder of .bin.
  CalibrationOptions o;
  o.shape = "1x3";
  o.max_batch = 4;
  auto data3 = CalibrationData::Open(*model, d, o);
  ASSERT_TRUE(data3.ok()) << data3.status();
  EXPECT_EQ(Drain(**data3).size(), 2u);
  // A size that is not a multiple of the shape.
  auto bad = CalibrationData::Open(*model, d + "/a.bin:4x3");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("a.bin"), std::string::npos) << bad.status();
  EXPECT_NE(bad.status().message().find("[4,3]"), std::string::npos) << bad.status();
}

TEST(CalibrationData, RandomIsLoud) {
  auto model = TinyModel(true);
  std::string err;  // the warning goes to the reporter, never to stderr by itself
  CalibrationOptions o;
  o.max_samples = 10;
  o.reporter = Reporter(nullptr, [&](const std::string& line) { err += line; });
  ::testing::internal::CaptureStderr();
  auto data = CalibrationData::Open(*model, "", o);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_NE(err.find("WARNING"), std::string::npos);
  EXPECT_NE(err.find("RANDOM"), std::string::npos);
  EXPECT_EQ((*data)->size(), 10);
  EXPECT_NE((*data)->Describe().find("RANDOM"), std::string::npos);
  int64_t rows = 0;
  for (;;) {
    auto s = (*data)->Next();
    ASSERT_TRUE(s.ok()) << s.status();
    if (!s->has_value()) break;
    ASSERT_EQ((*s)->inputs.size(), 2u);
    EXPECT_EQ((*s)->inputs[1].second.dims(), (std::vector<int64_t>{(*s)->rows, 2}));
    rows += (*s)->rows;
  }
  EXPECT_EQ(rows, 10);
}

// Random token ids for an embedding lookup cover its rows, not just 0/1.
TEST(CalibrationData, RandomIndicesSpanTheirTable) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* in = g->add_input();
  in->set_name("ids");
  auto* tt = in->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(TensorProto::INT64);
  tt->mutable_shape()->add_dim()->set_dim_param("N");
  tt->mutable_shape()->add_dim()->set_dim_value(64);
  auto* table = g->add_initializer();
  table->set_name("table");
  table->set_data_type(TensorProto::FLOAT);
  table->add_dims(500);
  table->add_dims(2);
  table->set_raw_data(std::string(500 * 2 * sizeof(float), '\0'));
  auto* n = g->add_node();
  n->set_op_type("Gather");
  n->add_input("table");
  n->add_input("ids");
  n->add_output("emb");
  g->add_output()->set_name("emb");
  auto model = ImportModel(std::move(m), ".");
  ASSERT_TRUE(model.ok()) << model.status();
  CalibrationOptions opts;
  opts.max_samples = 4;
  opts.warn_random = false;
  auto data = CalibrationData::Open(**model, "", opts);
  ASSERT_TRUE(data.ok()) << data.status();
  int64_t lo = 1 << 30, hi = -1;
  for (;;) {
    auto s = (*data)->Next();
    ASSERT_TRUE(s.ok()) << s.status();
    if (!s->has_value()) break;
    for (int64_t id : (*s)->inputs[0].second.span<int64_t>()) {
      lo = std::min(lo, id);
      hi = std::max(hi, id);
    }
  }
  EXPECT_GE(lo, 0);
  EXPECT_LT(hi, 500);
  EXPECT_GT(hi, 400);  // 256 draws from [0, 500)
}

TEST(CalibrationData, MissingOrEmpty) {
  auto model = TinyModel();
  auto missing = CalibrationData::Open(*model, "/nonexistent/calib");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/calib"), std::string::npos);
  std::string d = TempDir("empty");
  auto empty = CalibrationData::Open(*model, d);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("no calibration files"), std::string::npos);
  // One .npy for a two-input model.
  auto two = TinyModel(true);
  ASSERT_TRUE(WriteNpy(d + "/data.npy", Rows(2, 3, 0)).ok());
  auto one = CalibrationData::Open(*two, d + "/data.npy");
  ASSERT_FALSE(one.ok());
  EXPECT_NE(one.status().message().find("'y'"), std::string::npos) << one.status();
}

TEST(CalibrationData, FixedBatchDimensionGetsExactlyThatMany) {
  auto model = TinyModel(false, 4);
  std::string d = TempDir("fixed");
  ASSERT_TRUE(WriteNpy(d + "/x.npy", Rows(10, 3, 0)).ok());
  auto data = CalibrationData::Open(*model, d + "/x.npy");
  ASSERT_TRUE(data.ok()) << data.status();
  auto got = Drain(**data);  // 4 + 4, the last 2 rows dropped (said on stderr)
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].first, 4);
}

// Files written the way numpy.savez / savez_compressed write them (zip64 local
// headers via force_zip64=True; made with Python's zipfile, see the commit).
TEST(CalibrationData, NumpyWrittenNpz) {
  auto model = TinyModel(true);
  std::string dir = std::string(std::getenv("TEST_SRCDIR")) + "/onnxcompress/analysis/calibration/testdata/";
  for (const char* f : {"numpy_savez.npz", "numpy_savez_compressed.npz"}) {
    SCOPED_TRACE(f);
    ASSERT_TRUE(fs::exists(dir + f)) << dir + f;
    auto data = CalibrationData::Open(*model, dir + f);
    ASSERT_TRUE(data.ok()) << data.status();
    EXPECT_EQ((*data)->size(), 4);
    auto s = (*data)->Next();
    ASSERT_TRUE(s.ok() && s->has_value()) << s.status();
    ASSERT_EQ((*s)->inputs.size(), 2u);
    EXPECT_EQ((*s)->inputs[0].first, "x");
    EXPECT_EQ((*s)->inputs[0].second.data<float>()[11], 11.f);
    EXPECT_EQ((*s)->inputs[1].first, "y");
    EXPECT_EQ((*s)->inputs[1].second.data<float>()[7], 107.f);
  }
}

}  // namespace
}  // namespace onnxc
