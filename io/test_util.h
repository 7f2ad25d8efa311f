// Helpers for io's tests: file contents with a pattern, and memory aligned
// for direct reads.
#ifndef SAFETENSORS_IO_TEST_UTIL_H_
#define SAFETENSORS_IO_TEST_UTIL_H_

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
