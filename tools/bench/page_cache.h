// Dropping a file from the page cache for cold-cache benchmark runs, and
// checking that it worked: posix_fadvise(POSIX_FADV_DONTNEED) drops clean
// pages only, and a file still mapped or being written keeps some, so the
// benchmarks report what stayed resident rather than assume.
#ifndef SAFETENSORS_TOOLS_BENCH_PAGE_CACHE_H_
#define SAFETENSORS_TOOLS_BENCH_PAGE_CACHE_H_

#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "io/direct_read.h"
#include "io/file.h"

namespace safetensors {
namespace bench {

// The fraction of `path`'s pages in the page cache (io's CachedPages), or -1
// when it cannot be told.
inline double ResidentFraction(const std::string& path) {
  const absl::StatusOr<std::shared_ptr<File>> file = File::Open(path);
  if (!file.ok()) return -1;
  if ((*file)->size() == 0) return 0;
  const std::vector<unsigned char> cached = CachedPages(**file);
  if (cached.empty()) return -1;
  size_t in = 0;
  for (unsigned char c : cached) in += (c & 1u) != 0 ? 1 : 0;
  return static_cast<double>(in) / static_cast<double>(cached.size());
}

// Asks the kernel to drop `path` from the page cache (after flushing it);
// returns the fraction still resident afterwards (-1: unknown).
inline double DropFromPageCache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return -1;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  return ResidentFraction(path);
}

}  // namespace bench
}  // namespace safetensors

#endif  // SAFETENSORS_TOOLS_BENCH_PAGE_CACHE_H_
