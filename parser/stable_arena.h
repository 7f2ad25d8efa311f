// Append-only storage whose elements never move, so views into it stay valid
// while it grows and after the arena itself is moved. The parser keeps tensor
// names and shapes here: one allocation per block instead of one per tensor,
// which keeps a 100,000-tensor header small and fast to build.
#ifndef SAFETENSORS_PARSER_STABLE_ARENA_H_
#define SAFETENSORS_PARSER_STABLE_ARENA_H_

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

#include "absl/types/span.h"

namespace safetensors {
namespace internal {

template <typename T>
class StableArena {
 public:
  StableArena() = default;
  StableArena(StableArena&&) = default;
  StableArena& operator=(StableArena&&) = default;
  StableArena(const StableArena&) = delete;
  StableArena& operator=(const StableArena&) = delete;

  // Copies `values` into the arena. The returned span is valid as long as the
  // arena (or the arena it was moved into) lives.
  absl::Span<const T> Copy(absl::Span<const T> values) {
    if (values.empty()) return {};
    if (values.size() > available_) Grow(values.size());
    T* out = next_;
    std::copy(values.begin(), values.end(), out);
    next_ += values.size();
    available_ -= values.size();
    return absl::Span<const T>(out, values.size());
  }

 private:
  // Blocks double up to kMaxBlock elements, so a small header allocates little
  // and a large one allocates few times. A value larger than the current
  // block gets a block of its own size.
  static constexpr size_t kFirstBlock = 256;
  static constexpr size_t kMaxBlock = size_t{1} << 16;

  void Grow(size_t at_least) {
    const size_t size = std::max(at_least, next_block_size_);
    // new T[] rather than make_unique: value-initializing would write every
    // byte twice.
    blocks_.emplace_back(new T[size]);
    next_ = blocks_.back().get();
    available_ = size;
    next_block_size_ = std::min(next_block_size_ * 2, kMaxBlock);
  }

  std::vector<std::unique_ptr<T[]>> blocks_;
  T* next_ = nullptr;
  size_t available_ = 0;
  size_t next_block_size_ = kFirstBlock;
};

}  // namespace internal
}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_STABLE_ARENA_H_
