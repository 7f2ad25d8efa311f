// Decisions drawn from fuzzer bytes, for the structure-aware fuzzers. Once
// the bytes run out every answer is zero, so any input is a valid program.
// (LLVM's FuzzedDataProvider ships only with clang; the replay build uses the
// default toolchain.)
#ifndef SAFETENSORS_FUZZ_CHOICES_H_
#define SAFETENSORS_FUZZ_CHOICES_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/types/span.h"

namespace safetensors {
namespace fuzzing {

class Choices {
 public:
  Choices(const uint8_t* data, size_t size) : bytes_(data, size) {}

  uint8_t Byte() {
    if (bytes_.empty()) return 0;
    const uint8_t b = bytes_[0];
    bytes_.remove_prefix(1);
    return b;
  }
  bool Bit() { return (Byte() & 1) != 0; }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | Byte();
    return v;
  }
  // Uniform enough in [0, n); 0 when n is 0.
  uint64_t Below(uint64_t n) {
    if (n == 0) return 0;
    const uint64_t v = n <= 256 ? Byte() : U64();
    return v % n;
  }
  // Up to `max` raw bytes.
  std::string Bytes(size_t max) {
    const size_t n = static_cast<size_t>(Below(max + 1));
    std::string out;
    for (size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(Byte()));
    return out;
  }
  bool empty() const { return bytes_.empty(); }

 private:
  absl::Span<const uint8_t> bytes_;
};

}  // namespace fuzzing
}  // namespace safetensors

#endif  // SAFETENSORS_FUZZ_CHOICES_H_
