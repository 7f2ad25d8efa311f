// Times opening and validating a whole checkpoint: the index and every
// shard's header (Checkpoint::Open: open each file, read 8 bytes, read the
// header, ParseHeader, the rules across shards), then listing every tensor
// name. No tensor data is read. Also the peak resident memory of the first
// open beyond what the process held before it. Prints one JSON object;
// tools/bench/bench_checkpoint.py runs it beside Python doing what
// transformers does.
//
//   checkpoint_bench DIR [ITERATIONS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "io/checkpoint.h"
#include "tools/bench/proc_status.h"

namespace {

long OpenAndList(const char* dir, std::optional<safetensors::Checkpoint>& checkpoint,
                 std::vector<absl::string_view>& names) {
  absl::StatusOr<safetensors::Checkpoint> opened = safetensors::Checkpoint::Open(dir);
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.status().ToString().c_str());
    return -1;
  }
  checkpoint.emplace(*std::move(opened));
  names.clear();
  for (const auto& location : checkpoint->InShardOrder()) names.push_back(location.info->name);
  return static_cast<long>(names.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: checkpoint_bench DIR [ITERATIONS]\n");
    return 2;
  }
  int iterations = 10;
  if (argc > 2 && !absl::SimpleAtoi(argv[2], &iterations)) return 2;
  std::vector<absl::string_view> names;
  std::optional<safetensors::Checkpoint> checkpoint;

  safetensors::bench::ResetPeakResident();
  const long baseline = safetensors::bench::StatusField("VmRSS:");
  const long tensors = OpenAndList(argv[1], checkpoint, names);
  const long peak = safetensors::bench::StatusField("VmHWM:");
  if (tensors < 0) return 1;
  const size_t shards = checkpoint->shards().size();

  std::vector<double> ms;
  for (int i = 0; i < iterations; ++i) {
    checkpoint.reset();
    const auto start = std::chrono::steady_clock::now();
    if (OpenAndList(argv[1], checkpoint, names) != tensors) return 1;
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("%s\n", absl::StrCat("{\"tensors\":", tensors, ",\"shards\":", shards,
                                   ",\"median_ms\":", ms[ms.size() / 2], ",\"min_ms\":", ms.front(),
                                   ",\"peak_rss_delta_bytes\":", peak - baseline, "}")
                          .c_str());
  return 0;
}
