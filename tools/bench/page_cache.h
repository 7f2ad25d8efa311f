// Dropping a file from the page cache for cold-cache benchmark runs, and
// checking that it worked: posix_fadvise(POSIX_FADV_DONTNEED) drops clean
// pages only, and a file still mapped or being written keeps some, so the
// benchmarks report what stayed resident rather than assume.
#ifndef SAFETENSORS_TOOLS_BENCH_PAGE_CACHE_H_
#define SAFETENSORS_TOOLS_BENCH_PAGE_CACHE_H_

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

namespace safetensors {
namespace bench {

// The fraction of `path`'s pages in the page cache (mincore of a mapping),
// or -1 when it cannot be told.
inline double ResidentFraction(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return -1;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return -1;
  }
  if (st.st_size == 0) {
    ::close(fd);
    return 0;
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return -1;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((size + page - 1) / page);
  double fraction = -1;
  if (::mincore(map, size, resident.data()) == 0) {
    size_t in = 0;
    for (unsigned char r : resident) in += r & 1;
    fraction = static_cast<double>(in) / static_cast<double>(resident.size());
  }
  ::munmap(map, size);
  return fraction;
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
