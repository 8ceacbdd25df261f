// Sequential byte sources for the array readers: a slice of a file, or a
// raw-deflate (zip method 8) stream over one, read in fixed memory.
#ifndef ONNXC_ANALYSIS_CALIBRATION_BYTE_STREAM_H_
#define ONNXC_ANALYSIS_CALIBRATION_BYTE_STREAM_H_

#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace onnxc {
namespace calibration {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual absl::Status Read(char* dst, int64_t n) = 0;
  virtual absl::Status Reset() = 0;
};

// Bytes [offset, offset + length) of a file.
class FileStream : public ByteStream {
 public:
  FileStream(std::string path, int64_t offset, int64_t length)
      : path_(std::move(path)), offset_(offset), length_(length) {}
  absl::Status Read(char* dst, int64_t n) override;
  absl::Status Reset() override;

 private:
  std::string path_;
  int64_t offset_, length_, pos_ = 0;
  std::ifstream in_;
};

// A raw-deflate stream (zip method 8) over bytes [offset, offset + length).
class InflateStream : public ByteStream {
 public:
  InflateStream(std::string path, int64_t offset, int64_t length)
      : path_(std::move(path)), offset_(offset), length_(length) {}
  ~InflateStream() override;
  absl::Status Read(char* dst, int64_t n) override;
  absl::Status Reset() override;

 private:
  std::string path_;
  int64_t offset_, length_, consumed_ = 0;
  std::ifstream in_;
  std::vector<char> buf_;
  z_stream z_{};
  bool init_ = false;
};

}  // namespace calibration
}  // namespace onnxc

#endif  // ONNXC_ANALYSIS_CALIBRATION_BYTE_STREAM_H_
