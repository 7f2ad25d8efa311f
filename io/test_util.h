// Helpers for tests of reads (io's and torch_io's): file contents with a
// pattern, memory aligned for direct reads, and the page cache's state.
#ifndef SAFETENSORS_IO_TEST_UTIL_H_
#define SAFETENSORS_IO_TEST_UTIL_H_

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/types/span.h"
#include "io/direct_read.h"

namespace safetensors {
namespace testing {

// `size` bytes in which nearby ranges differ (a read from the wrong offset
// shows).
inline std::string PatternedBytes(size_t size) {
  std::string contents(size, '\0');
  for (size_t i = 0; i < size; ++i) contents[i] = static_cast<char>((i * 7 + i / 251) & 0xFF);
  return contents;
}

// Whether this filesystem opens `path` for direct reads (tmpfs before
// Linux 6.6 does not): tests of direct reads have nothing to test without.
inline bool OpensForDirectReads(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

// Writes the open file's pages back and asks the kernel to drop them from
// the page cache (only clean pages drop); whether both calls succeeded.
inline bool DropFromPageCache(int fd) {
  return ::fdatasync(fd) == 0 && ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
}

// `size` bytes (a multiple of kDirectReadAlignment) at an address aligned for
// direct reads, each 0xEE until written.
struct AlignedBuffer {
  explicit AlignedBuffer(size_t size)
      : bytes(static_cast<uint8_t*>(std::aligned_alloc(kDirectReadAlignment, size)), &std::free),
        span(bytes.get(), size) {
    std::fill(span.begin(), span.end(), uint8_t{0xEE});
  }
  std::unique_ptr<uint8_t, decltype(&std::free)> bytes;
  absl::Span<uint8_t> span;
};

}  // namespace testing
}  // namespace safetensors

#endif  // SAFETENSORS_IO_TEST_UTIL_H_
