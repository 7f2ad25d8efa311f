#include "parser/byte_cursor.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace safetensors {
namespace {

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHigh = 0x8080808080808080ULL;
constexpr uint64_t kLow7 = 0x7F7F7F7F7F7F7F7FULL;

// The high bit of each byte of the result is set exactly when that byte of
// `word` is zero (the low-7 sum cannot carry into the next byte).
uint64_t ZeroBytes(uint64_t word) { return ~(((word & kLow7) + kLow7) | word | kLow7); }

// The 8 bytes of `bytes` from `at` as a little-endian word; false when fewer
// remain.
bool LoadWord(absl::Span<const uint8_t> bytes, size_t at, uint64_t* word) {
  return at <= bytes.size() && ByteCursor(bytes.subspan(at)).PeekWord(word);
}

#if defined(__SSE2__)
// The 16 bytes of `bytes` from `at`; false when fewer remain.
bool LoadBlock(absl::Span<const uint8_t> bytes, size_t at, __m128i* block) {
  if (at > bytes.size() || bytes.size() - at < 16) return false;
  std::memcpy(block, bytes.data() + at, 16);
  return true;
}
#endif

}  // namespace

// Each scan takes 16-byte blocks (SSE2), then 8-byte words, then bytes, so
// that every path runs on x86-64 too (the tests compare each with a byte loop
// over every length).
size_t CountByte(absl::Span<const uint8_t> bytes, uint8_t byte) {
  size_t count = 0;
  size_t at = 0;
#if defined(__SSE2__)
  // Per-lane counters (a match is -1, subtracted), summed every 255 blocks
  // before a lane can wrap; no popcount (a libgcc call without -mpopcnt).
  const __m128i wanted = _mm_set1_epi8(static_cast<char>(byte));
  const __m128i zero = _mm_setzero_si128();
  __m128i block;
  bool more = true;
  while (more) {
    __m128i lanes = zero;
    for (int i = 0; i < 255 && (more = LoadBlock(bytes, at, &block)); ++i, at += 16) {
      lanes = _mm_sub_epi8(lanes, _mm_cmpeq_epi8(block, wanted));
    }
    const __m128i sums = _mm_sad_epu8(lanes, zero);  // two 64-bit lane sums
    count += static_cast<size_t>(_mm_cvtsi128_si32(sums)) +
             static_cast<size_t>(_mm_extract_epi16(sums, 4));
  }
#endif
  uint64_t word;
  while (LoadWord(bytes, at, &word)) {
    count += static_cast<size_t>(((ZeroBytes(word ^ (kOnes * byte)) >> 7) * kOnes) >> 56);
    at += 8;
  }
  for (; at < bytes.size(); ++at) count += bytes[at] == byte ? 1u : 0u;
  return count;
}

size_t BytesBeforeControlOr(absl::Span<const uint8_t> bytes, uint8_t a, uint8_t b) {
  size_t at = 0;
#if defined(__SSE2__)
  const __m128i match_a = _mm_set1_epi8(static_cast<char>(a));
  const __m128i match_b = _mm_set1_epi8(static_cast<char>(b));
  const __m128i space = _mm_set1_epi8(0x20);
  __m128i block;
  while (LoadBlock(bytes, at, &block)) {
    // Unsigned block < 0x20 exactly when max(block, 0x20) differs from it.
    const __m128i control = _mm_xor_si128(_mm_cmpeq_epi8(_mm_max_epu8(block, space), block),
                                          _mm_set1_epi8(-1));
    const __m128i stop = _mm_or_si128(
        control, _mm_or_si128(_mm_cmpeq_epi8(block, match_a), _mm_cmpeq_epi8(block, match_b)));
    const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(stop));
    if (mask != 0) return at + static_cast<size_t>(__builtin_ctz(mask));
    at += 16;
  }
#endif
  uint64_t word;
  while (LoadWord(bytes, at, &word)) {
    // (v - 1..) & ~v flags the lowest zero byte of v exactly (higher flags
    // may be false; only the lowest is used).
    const uint64_t is_a = word ^ (kOnes * a);
    const uint64_t is_b = word ^ (kOnes * b);
    const uint64_t stop = (((is_a - kOnes) & ~is_a) | ((is_b - kOnes) & ~is_b) |
                           ((word - kOnes * 0x20) & ~word)) &
                          kHigh;
    if (stop != 0) return at + static_cast<size_t>(__builtin_ctzll(stop) / 8);
    at += 8;
  }
  for (; at < bytes.size(); ++at) {
    if (bytes[at] < 0x20 || bytes[at] == a || bytes[at] == b) return at;
  }
  return at;
}

}  // namespace safetensors
