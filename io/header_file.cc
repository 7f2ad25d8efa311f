#include "io/header_file.h"

#include <algorithm>
#include <cstdint>
#include <memory>

#include "parser/status_macros.h"

namespace safetensors {

absl::StatusOr<Header> ReadHeader(const File& file, const ParseOptions& options) {
  uint8_t first[kLengthPrefixSize];
  const size_t first_size =
      static_cast<size_t>(std::min<uint64_t>(kLengthPrefixSize, file.size()));
  SAFETENSORS_RETURN_IF_ERROR(file.ReadAt(0, absl::MakeSpan(first, first_size)));
  // The limit and the file size are checked before anything is allocated.
  SAFETENSORS_ASSIGN_OR_RETURN(
      const uint64_t header_size,
      ReadHeaderSize(absl::MakeConstSpan(first, first_size), file.size(), options));
  // Not zero-filled (a vector would be): every byte is read into.
  const size_t prefix_size = static_cast<size_t>(kLengthPrefixSize + header_size);
  const std::unique_ptr<uint8_t[]> prefix(new uint8_t[prefix_size]);
  const absl::Span<uint8_t> bytes(prefix.get(), prefix_size);
  SAFETENSORS_RETURN_IF_ERROR(file.ReadAt(0, bytes));
  return ParseHeader(bytes, file.size(), options);
}

absl::StatusOr<Header> ReadHeaderFile(const std::string& path, const ParseOptions& options) {
  SAFETENSORS_ASSIGN_OR_RETURN(const std::shared_ptr<File> file, File::Open(path));
  return ReadHeader(*file, options);
}

}  // namespace safetensors
