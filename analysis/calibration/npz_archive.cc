#include "analysis/calibration/npz_archive.h"

#include <zlib.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "analysis/calibration/npy_format.h"

namespace onnxc {
namespace calibration {
namespace {

uint32_t U32(const unsigned char* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }
uint16_t U16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint64_t U64(const unsigned char* p) { return U32(p) | (static_cast<uint64_t>(U32(p + 4)) << 32); }

void Put16(std::string& s, uint32_t v) { s.push_back(v & 0xff); s.push_back((v >> 8) & 0xff); }
void Put32(std::string& s, uint32_t v) { Put16(s, v & 0xffff); Put16(s, v >> 16); }
}  // namespace

absl::StatusOr<std::vector<ZipEntry>> ReadZipDirectory(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  in.seekg(0, std::ios::end);
  int64_t size = in.tellg();
  int64_t tail = std::min<int64_t>(size, 65557 + 20);
  std::vector<unsigned char> buf(tail);
  in.seekg(size - tail);
  in.read(reinterpret_cast<char*>(buf.data()), tail);
  int64_t eocd = -1;
  for (int64_t i = tail - 22; i >= 0; --i)
    if (U32(&buf[i]) == 0x06054b50) { eocd = i; break; }
  if (eocd < 0) return absl::InvalidArgumentError(absl::StrCat(path, ": not a .npz (zip) file"));
  uint64_t count = U16(&buf[eocd + 10]);
  uint64_t cd_size = U32(&buf[eocd + 12]);
  uint64_t cd_offset = U32(&buf[eocd + 16]);
  // Zip64 end of central directory record, through its locator just before.
  if ((cd_offset == 0xFFFFFFFFu || count == 0xFFFF) && eocd >= 20 && U32(&buf[eocd - 20]) == 0x07064b50) {
    uint64_t rec = U64(&buf[eocd - 20 + 8]);
    unsigned char z[56];
    in.seekg(rec);
    in.read(reinterpret_cast<char*>(z), 56);
    if (U32(z) == 0x06064b50) {
      count = U64(z + 32);
      cd_size = U64(z + 40);
      cd_offset = U64(z + 48);
    }
  }
  if (cd_offset + cd_size > static_cast<uint64_t>(size))
    return absl::InvalidArgumentError(absl::StrCat(path, ": corrupt zip directory"));
  std::vector<unsigned char> cd(cd_size);
  in.seekg(cd_offset);
  in.read(reinterpret_cast<char*>(cd.data()), cd_size);
  std::vector<ZipEntry> out;
  size_t p = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (p + 46 > cd.size() || U32(&cd[p]) != 0x02014b50)
      return absl::InvalidArgumentError(absl::StrCat(path, ": corrupt zip directory"));
    ZipEntry e;
    e.method = U16(&cd[p + 10]);
    e.comp_size = U32(&cd[p + 20]);
    e.size = U32(&cd[p + 24]);
    int name_len = U16(&cd[p + 28]), extra_len = U16(&cd[p + 30]), comment_len = U16(&cd[p + 32]);
    e.local_offset = U32(&cd[p + 42]);
    if (p + 46 + name_len + extra_len > cd.size())
      return absl::InvalidArgumentError(absl::StrCat(path, ": corrupt zip directory"));
    e.name.assign(reinterpret_cast<const char*>(&cd[p + 46]), name_len);
    // Zip64 extra field: the 0xFFFFFFFF fields, in order.
    size_t x = p + 46 + name_len, xe = x + extra_len;
    while (x + 4 <= xe) {
      int id = U16(&cd[x]), len = U16(&cd[x + 2]);
      if (id == 1) {
        size_t q = x + 4;
        if (e.size == 0xFFFFFFFFu && q + 8 <= x + 4 + len) { e.size = U64(&cd[q]); q += 8; }
        if (e.comp_size == 0xFFFFFFFFu && q + 8 <= x + 4 + len) { e.comp_size = U64(&cd[q]); q += 8; }
        if (e.local_offset == 0xFFFFFFFFu && q + 8 <= x + 4 + len) { e.local_offset = U64(&cd[q]); q += 8; }
      }
      x += 4 + len;
    }
    // Data starts after the local header, whose name/extra lengths may differ.
    unsigned char lh[30];
    in.seekg(e.local_offset);
    in.read(reinterpret_cast<char*>(lh), 30);
    if (!in || U32(lh) != 0x04034b50) return absl::InvalidArgumentError(absl::StrCat(path, ": corrupt zip entry ", e.name));
    e.local_offset += 30 + U16(lh + 26) + U16(lh + 28);
    out.push_back(std::move(e));
    p += 46 + name_len + extra_len + comment_len;
  }
  return out;
}
}  // namespace calibration

absl::Status WriteNpz(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& arrays,
                      bool compress) {
  std::string out, cd;
  for (const auto& [name, t] : arrays) {
    if (calibration::NpyDescr(t.type()).empty())
      return absl::InvalidArgumentError(absl::StrCat("WriteNpz: unsupported type ", DataTypeName(t.type())));
    std::string data = calibration::NpyBytes(t);
    uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(data.data()), data.size());
    std::string stored = data;
    if (compress) {
      z_stream z{};
      deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
      stored.assign(deflateBound(&z, data.size()), '\0');
      z.next_in = reinterpret_cast<Bytef*>(data.data());
      z.avail_in = data.size();
      z.next_out = reinterpret_cast<Bytef*>(stored.data());
      z.avail_out = stored.size();
      ::deflate(&z, Z_FINISH);
      stored.resize(z.total_out);
      deflateEnd(&z);
    }
    std::string fname = name + ".npy";
    uint32_t offset = out.size();
    auto header = [&](std::string& s, bool central) {
      calibration::Put32(s, central ? 0x02014b50 : 0x04034b50);
      if (central) calibration::Put16(s, 20);
      calibration::Put16(s, 20);
      calibration::Put16(s, 0);
      calibration::Put16(s, compress ? 8 : 0);
      calibration::Put16(s, 0);
      calibration::Put16(s, 0x21);
      calibration::Put32(s, crc);
      calibration::Put32(s, stored.size());
      calibration::Put32(s, data.size());
      calibration::Put16(s, fname.size());
      calibration::Put16(s, 0);
      if (central) {
        calibration::Put16(s, 0);
        calibration::Put16(s, 0);
        calibration::Put16(s, 0);
        calibration::Put32(s, 0);
        calibration::Put32(s, offset);
      }
      s += fname;
    };
    header(out, false);
    out += stored;
    header(cd, true);
  }
  uint32_t cd_offset = out.size();
  out += cd;
  calibration::Put32(out, 0x06054b50);
  calibration::Put16(out, 0);
  calibration::Put16(out, 0);
  calibration::Put16(out, arrays.size());
  calibration::Put16(out, arrays.size());
  calibration::Put32(out, cd.size());
  calibration::Put32(out, cd_offset);
  calibration::Put16(out, 0);
  std::ofstream f(path, std::ios::binary);
  f.write(out.data(), out.size());
  return f ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write ", path));
}

}  // namespace onnxc
