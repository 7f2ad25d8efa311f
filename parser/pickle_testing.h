// Test oracle for torch.save tables (tests and fuzzers only): a tensor's
// elements gathered one by one through its strides, written without the
// product's copy paths, so those can be checked against it.
#ifndef SAFETENSORS_PARSER_PICKLE_TESTING_H_
#define SAFETENSORS_PARSER_PICKLE_TESTING_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "parser/byte_cursor.h"
#include "parser/dtype.h"
#include "parser/pickle_checkpoint.h"

namespace safetensors {
namespace testing {

// The elements of `t`, in row-major order, contiguous and little-endian,
// read from `file` (the whole checkpoint `table` was parsed from).
inline std::string GatherPickleElements(absl::Span<const uint8_t> file, const PickleCheckpoint& table,
                                        const PickleTensor& t) {
  const PickleStorage& storage = table.storages[t.storage];
  const size_t element = DtypeBits(t.dtype) / 8;
  uint64_t numel = 1;
  for (uint64_t d : t.shape) numel *= d;
  std::string out;
  std::vector<uint64_t> index(t.shape.size(), 0);
  for (uint64_t n = 0; n < numel; ++n) {
    uint64_t at = t.storage_offset;
    for (size_t d = 0; d < index.size(); ++d) at += index[d] * t.strides[d];
    std::string bytes(TextOf(file.subspan(storage.byte_offset + at * element, element)));
    if (table.big_endian) std::reverse(bytes.begin(), bytes.end());
    out += bytes;
    for (size_t d = index.size(); d-- > 0;) {
      if (++index[d] < t.shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

}  // namespace testing
}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_PICKLE_TESTING_H_
