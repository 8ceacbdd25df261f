#include "analysis/calibration/calibration_settings.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace onnxc {
namespace {

bool EnvInt(const char* name, int64_t* out) {
  const char* v = std::getenv(name);
  return v != nullptr && absl::SimpleAtoi(v, out);
}

// The (rank, size) of the job this process is part of, if any.
absl::StatusOr<CalibrationShard> ShardFromEnvironment() {
  CalibrationShard s;
  struct Pair { const char* rank; const char* size; };
  for (Pair p : {Pair{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"}, Pair{"PMI_RANK", "PMI_SIZE"},
                 Pair{"PMIX_RANK", "OMPI_COMM_WORLD_SIZE"}}) {
    if (EnvInt(p.rank, &s.index) && EnvInt(p.size, &s.count)) return s;
  }
  int64_t id, count, min = 0;
  if (EnvInt("SLURM_ARRAY_TASK_ID", &id) && EnvInt("SLURM_ARRAY_TASK_COUNT", &count)) {
    EnvInt("SLURM_ARRAY_TASK_MIN", &min);
    s.index = id - min;
    s.count = count;
    return s;
  }
  return absl::InvalidArgumentError(
      "--calib-shard=auto: not inside an MPI job (OMPI_COMM_WORLD_RANK/SIZE, PMI_RANK/SIZE) or a Slurm job array "
      "(SLURM_ARRAY_TASK_ID/COUNT); give k/n instead");
}

}  // namespace

absl::StatusOr<CalibrationShard> CalibrationShard::Parse(const std::string& text) {
  CalibrationShard s;
  if (text.empty()) return s;
  if (text == "auto") {
    auto env = ShardFromEnvironment();
    if (!env.ok()) return env.status();
    s = *env;
  } else {
    std::vector<std::string> kn = absl::StrSplit(text, '/');
    if (kn.size() != 2 || !absl::SimpleAtoi(kn[0], &s.index) || !absl::SimpleAtoi(kn[1], &s.count))
      return absl::InvalidArgumentError(absl::StrCat("calib-shard=", text, ": expected k/n with 0 <= k < n, or auto"));
  }
  if (s.count < 1 || s.index < 0 || s.index >= s.count)
    return absl::InvalidArgumentError(absl::StrCat("calib-shard=", text, " (", s.index, "/", s.count,
                                                   "): expected k/n with 0 <= k < n"));
  return s;
}

std::string CalibrationShard::ToString() const { return absl::StrCat(index, "/", count); }

std::string CalibrationSettings::CacheKey() const {
  return absl::StrCat(data, "|", samples, "|", bins, "|", histograms, "|", batch, "|", shape, "|",
                      shard.ToString(), "|", absl::StrJoin(stats_in, ","));
}

std::string CalibrationSettings::StatsOutPath() const {
  return absl::StrReplaceAll(stats_out, {{"{shard}", absl::StrCat(shard.index)}});
}

}  // namespace onnxc
