// Times opening a safetensors file and validating its header: open, read the
// 8-byte length, read the header, ParseHeader, list the tensor names. The
// same work as the reference's `safe_open(path, "pt")` plus `.keys()`.
// Also measures the peak resident memory of one such open, as a multiple of
// the header size. Prints one JSON object; tools/bench/bench_parse_header.py
// runs it beside the reference.
//
//   parse_header_bench FILE [ITERATIONS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "io/header_file.h"
#include "parser/header.h"
#include "tools/bench/proc_status.h"

namespace {

// One open: returns the number of names listed, or -1 on error. The header
// stays alive in `header` so the names can be listed as views.
long OpenAndList(const char* path, std::optional<safetensors::Header>& header,
                 std::vector<absl::string_view>& names) {
  absl::StatusOr<safetensors::Header> read = safetensors::ReadHeaderFile(path);
  if (!read.ok()) {
    std::fprintf(stderr, "%s\n", read.status().ToString().c_str());
    return -1;
  }
  header.emplace(*std::move(read));
  names.clear();
  for (const safetensors::TensorInfo& t : header->tensors()) names.push_back(t.name);
  return static_cast<long>(names.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE [ITERATIONS]\n", argv[0]);
    return 2;
  }
  int iterations = 20;
  if (argc > 2 && !absl::SimpleAtoi(argv[2], &iterations)) return 2;
  std::vector<absl::string_view> names;
  std::optional<safetensors::Header> header;

  // Peak memory of the first open: reset the high-water mark to the current
  // resident size, open once, and read the new high-water mark.
  safetensors::bench::ResetPeakResident();
  const long baseline = safetensors::bench::StatusField("VmRSS:");
  const long tensors = OpenAndList(argv[1], header, names);
  const long peak = safetensors::bench::StatusField("VmHWM:");
  if (tensors < 0) return 1;

  std::vector<double> ms;
  for (int i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    header.reset();  // each open builds its header from nothing
    if (OpenAndList(argv[1], header, names) != tensors) return 1;
    ms.push_back(std::chrono::duration<double, std::milli>(
                     std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("%s\n",
              absl::StrCat("{\"tensors\":", tensors, ",\"median_ms\":", ms[ms.size() / 2],
                           ",\"min_ms\":", ms.front(), ",\"peak_rss_delta_bytes\":",
                           peak - baseline, "}")
                  .c_str());
  return 0;
}
