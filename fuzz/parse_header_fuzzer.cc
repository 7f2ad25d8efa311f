// Arbitrary bytes as a whole file -> ParseHeader, and on success every
// invariant of an accepted header. Also judges the same file from its prefix
// alone, as readers of large files do; both verdicts must agree.
#include <cstdint>
#include <cstring>
#include <memory>

#include "fuzz/header_invariants.h"
#include "parser/error.h"
#include "parser/header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safetensors;
  // An exact-size copy, so ASan flags any read one past the end.
  std::unique_ptr<uint8_t[]> copy(new uint8_t[size]);
  if (size > 0) std::memcpy(copy.get(), data, size);
  const absl::Span<const uint8_t> file(copy.get(), size);

  absl::StatusOr<Header> whole = ParseHeader(file, size);
  if (whole.ok()) {
    fuzzing::CheckHeaderInvariants(*whole);
  } else {
    fuzzing::Require(GetErrorCode(whole.status()).has_value(), "every error has a code");
    fuzzing::Require(whole.status().code() != absl::StatusCode::kInternal, "no internal errors");
  }
  absl::StatusOr<uint64_t> n = ReadHeaderSize(file.first(size < 8 ? size : 8), size, {});
  if (n.ok()) {
    absl::StatusOr<Header> from_prefix = ParseHeader(file.first(8 + *n), size);
    fuzzing::Require(from_prefix.ok() == whole.ok(), "prefix and whole file agree");
    if (!whole.ok()) {
      fuzzing::Require(GetErrorCode(from_prefix.status()) == GetErrorCode(whole.status()),
                       "same error code from the prefix");
    }
  } else {
    fuzzing::Require(!whole.ok() && GetErrorCode(n.status()) == GetErrorCode(whole.status()),
                     "framing errors agree");
  }
  return 0;
}
