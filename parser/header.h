// Validating a safetensors header: the only door between untrusted bytes and
// any tensor.
//
// A safetensors file is [8 bytes: N, little-endian u64][N bytes: UTF-8 JSON
// object][data buffer]. ParseHeader judges a whole file from its first 8 + N
// bytes and its size, so a multi-gigabyte file is validated after reading only
// its header:
//
//   absl::StatusOr<uint64_t> n = ReadHeaderSize(first8, file_size, {});
//   ... read 8 + *n bytes into `prefix` ...
//   absl::StatusOr<Header> header = ParseHeader(prefix, file_size, {});
//   for (const TensorInfo& t : header->tensors()) { ... }
//
// It accepts exactly what the reference implementation (huggingface/
// safetensors 0.8) accepts, and rejects with the reference's error class,
// except for three deliberate rejections where the reference accepts (see
// DESIGN.md): a duplicate key anywhere in the header; a tensor entry written
// as a positional array or a dtype written as a one-key object; and an
// element count whose overflow the reference misses because a zero dimension
// came first. Duplicate keys and that overflow are checked after all of the
// reference's checks, so a file the reference rejects is rejected for the
// reference's reason; the serde-only encodings are refused while reading (an
// InvalidHeaderDeserialization-class error either way).
//
// Work and memory are linear in the header size; nesting is bounded (127
// levels, as serde_json's); nothing recurses on input.
#ifndef SAFETENSORS_PARSER_HEADER_H_
#define SAFETENSORS_PARSER_HEADER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "parser/dtype.h"
#include "parser/name_index.h"
#include "parser/stable_arena.h"
#include "parser/tensor_info.h"

namespace safetensors {

// The reference implementation's limit; a header this large already describes
// millions of tensors.
inline constexpr uint64_t kDefaultMaxHeaderSize = 100'000'000;

// Bytes of the little-endian header length that starts every file.
inline constexpr uint64_t kLengthPrefixSize = 8;

struct ParseOptions {
  // Largest header length N accepted; larger is kHeaderTooLarge, checked
  // before anything is computed from N.
  uint64_t max_header_size = kDefaultMaxHeaderSize;
};

// A validated header. Move-only: TensorInfo views point into its storage.
class Header {
 public:
  Header(Header&&) = default;
  Header& operator=(Header&&) = default;
  Header(const Header&) = delete;
  Header& operator=(const Header&) = delete;

  // Tensors sorted by data offset; they tile the data buffer exactly.
  absl::Span<const TensorInfo> tensors() const { return tensors_; }

  // The tensor named `name`, or nullptr.
  const TensorInfo* Find(absl::string_view name) const;

  // The `__metadata__` map in file order; nullopt when absent or null.
  const std::optional<MetadataEntries>& metadata() const { return metadata_; }

  // Fields of tensor entries that the format does not define and readers
  // ignore, as {tensor name, field name}, in file order. Accepted (the
  // reference accepts them); `safetensors check --strict` reports them.
  const std::vector<std::pair<std::string, std::string>>& ignored_fields() const {
    return ignored_fields_;
  }

  uint64_t header_size() const { return header_size_; }  // N, padding included
  uint64_t data_offset() const { return kLengthPrefixSize + header_size_; }
  uint64_t data_size() const { return file_size_ - data_offset(); }
  uint64_t file_size() const { return file_size_; }

  // Same tensors (in the same order), metadata and sizes.
  friend bool operator==(const Header& a, const Header& b);

 private:
  friend class HeaderBuilder;
  Header() = default;

  // Indexes tensors_ by name; for a repeated name, the first position stays.
  void BuildIndex();

  static absl::string_view NameOf(const TensorInfo& t) { return t.name; }
  using NameIndex = internal::NameIndex<TensorInfo, size_t, &Header::NameOf>;

  internal::StableArena<char> names_;
  internal::StableArena<uint64_t> dims_;
  std::vector<TensorInfo> tensors_;
  NameIndex index_;
  std::optional<MetadataEntries> metadata_;
  std::vector<std::pair<std::string, std::string>> ignored_fields_;
  uint64_t header_size_ = 0;
  uint64_t file_size_ = 0;
};

// The header length N from the first bytes of a file of `file_size` bytes,
// checked against the file size and the limit: how many bytes (8 + N) to read
// before calling ParseHeader. `first_bytes` needs at least 8 bytes unless the
// file is shorter.
//
// Errors: kHeaderTooSmall, kHeaderTooLarge, kInvalidHeaderLength;
// kBadArgument when `first_bytes` is too short or
// longer than the file.
absl::StatusOr<uint64_t> ReadHeaderSize(absl::Span<const uint8_t> first_bytes,
                                        uint64_t file_size,
                                        const ParseOptions& options);

// Validates a whole file of `file_size` bytes from `prefix`, its first bytes:
// at least 8 + N of them (more, up to the whole file, is fine; the data
// buffer is never read). Does not keep a reference to `prefix`.
//
// Errors (all with absl::StatusCode::kInvalidArgument): kHeaderTooSmall,
// kHeaderTooLarge, kInvalidHeaderLength, kInvalidUtf8, kInvalidJson,
// kInvalidSchema, kDuplicateKey, kInvalidOffset, kValidationOverflow,
// kMisalignedSlice, kTensorInvalidInfo, kMetadataIncompleteBuffer;
// kBadArgument when `prefix` is shorter than 8 + N or longer than the
// file.
absl::StatusOr<Header> ParseHeader(absl::Span<const uint8_t> prefix,
                                   uint64_t file_size,
                                   const ParseOptions& options = {});

// Convenience for a whole file held in memory.
absl::StatusOr<Header> ParseHeader(absl::string_view file,
                                   const ParseOptions& options = {});

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_HEADER_H_
