#include "analysis/calibration/byte_stream.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace onnxc {
namespace calibration {

absl::Status FileStream::Read(char* dst, int64_t n) {
  if (!in_.is_open()) {
    absl::Status s = Reset();
    if (!s.ok()) return s;
  }
  if (pos_ + n > length_)
    return absl::DataLossError(absl::StrCat(path_, ": truncated (wanted ", n, " bytes at ", offset_ + pos_,
                                            ", the data ends at ", offset_ + length_, ")"));
  in_.read(dst, n);
  if (in_.gcount() != n) return absl::DataLossError(absl::StrCat(path_, ": read error at ", offset_ + pos_));
  pos_ += n;
  return absl::OkStatus();
}

absl::Status FileStream::Reset() {
  if (in_.is_open()) in_.close();
  in_.open(path_, std::ios::binary);
  if (!in_) return absl::NotFoundError(absl::StrCat("cannot open ", path_));
  in_.seekg(offset_);
  pos_ = 0;
  return absl::OkStatus();
}

InflateStream::~InflateStream() {
  if (init_) inflateEnd(&z_);
}

absl::Status InflateStream::Read(char* dst, int64_t n) {
  if (!init_) {
    absl::Status s = Reset();
    if (!s.ok()) return s;
  }
  z_.next_out = reinterpret_cast<Bytef*>(dst);
  int64_t left = n;
  while (left > 0) {
    uInt chunk = static_cast<uInt>(std::min<int64_t>(left, 1 << 30));
    z_.next_out = reinterpret_cast<Bytef*>(dst + (n - left));
    z_.avail_out = chunk;
    while (z_.avail_out > 0) {
      if (z_.avail_in == 0) {
        int64_t want = std::min<int64_t>(buf_.size(), length_ - consumed_);
        if (want <= 0) return absl::DataLossError(absl::StrCat(path_, ": compressed entry ends early"));
        in_.read(buf_.data(), want);
        if (in_.gcount() != want) return absl::DataLossError(absl::StrCat(path_, ": read error"));
        consumed_ += want;
        z_.next_in = reinterpret_cast<Bytef*>(buf_.data());
        z_.avail_in = static_cast<uInt>(want);
      }
      int r = inflate(&z_, Z_NO_FLUSH);
      if (r == Z_STREAM_END && z_.avail_out > 0)
        return absl::DataLossError(absl::StrCat(path_, ": compressed entry ends early"));
      if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
        return absl::DataLossError(absl::StrCat(path_, ": inflate failed (", z_.msg ? z_.msg : "error", ")"));
      if (r == Z_STREAM_END) break;
    }
    left -= chunk;
  }
  return absl::OkStatus();
}

absl::Status InflateStream::Reset() {
  if (init_) inflateEnd(&z_);
  std::memset(&z_, 0, sizeof(z_));
  if (inflateInit2(&z_, -MAX_WBITS) != Z_OK) return absl::InternalError("inflateInit2 failed");
  init_ = true;
  if (in_.is_open()) in_.close();
  in_.open(path_, std::ios::binary);
  if (!in_) return absl::NotFoundError(absl::StrCat("cannot open ", path_));
  in_.seekg(offset_);
  consumed_ = 0;
  buf_.resize(1 << 16);
  return absl::OkStatus();
}

}  // namespace calibration
}  // namespace onnxc
