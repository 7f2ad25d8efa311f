// Times opening a safetensors file and validating its header: open, read the
// 8-byte length, read the header, ParseHeader, list the tensor names. The
// same work as the reference's `safe_open(path, "pt")` plus `.keys()`.
// Also measures the peak resident memory of one such open, as a multiple of
// the header size. Prints one JSON object; tools/bench/bench_parse_header.py
// runs it beside the reference.
//
//   parse_header_bench FILE [ITERATIONS]
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "parser/header.h"

namespace {

// Reads exactly `size` bytes at `offset`; false on error or short file.
bool ReadAt(int fd, uint64_t offset, size_t size, uint8_t* out) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pread(fd, out + done, size - done, static_cast<off_t>(offset + done));
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// One open: returns the number of names listed, or -1 on error.
long OpenAndList(const char* path, std::vector<absl::string_view>& names) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  uint8_t first[8];
  long result = -1;
  if (fstat(fd, &st) == 0 && ReadAt(fd, 0, 8, first)) {
    const uint64_t file_size = static_cast<uint64_t>(st.st_size);
    absl::StatusOr<uint64_t> n = safetensors::ReadHeaderSize(first, file_size, {});
    if (n.ok()) {
      std::vector<uint8_t> prefix(static_cast<size_t>(8 + *n));
      if (ReadAt(fd, 0, prefix.size(), prefix.data())) {
        absl::StatusOr<safetensors::Header> header =
            safetensors::ParseHeader(prefix, file_size);
        if (header.ok()) {
          names.clear();
          for (const safetensors::TensorInfo& t : header->tensors()) names.push_back(t.name);
          result = static_cast<long>(names.size());
        } else {
          std::fprintf(stderr, "%s\n", header.status().ToString().c_str());
        }
      }
    }
  }
  close(fd);
  return result;
}

long StatusField(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) {
      return std::strtol(line.c_str() + std::string(field).size(), nullptr, 10) * 1024;
    }
  }
  return -1;
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

  // Peak memory of the first open: reset the high-water mark to the current
  // resident size, open once, and read the new high-water mark.
  { std::ofstream("/proc/self/clear_refs") << "5"; }
  const long baseline = StatusField("VmRSS:");
  const long tensors = OpenAndList(argv[1], names);
  const long peak = StatusField("VmHWM:");
  if (tensors < 0) return 1;

  std::vector<double> ms;
  for (int i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (OpenAndList(argv[1], names) != tensors) return 1;
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
