// The directory of a zip archive as torch.save writes it (torch >= 1.6), read
// strictly: one reading of the bytes, or a refusal. Zip readers disagree on
// ambiguous archives (which end record, which of two same-named entries, the
// local or the central name), and malware scanners have been bypassed through
// exactly those disagreements, so an archive is accepted only when every
// reader must see the same entries:
//
//   - exactly one end-of-central-directory record, ending at the end of the
//     file (a comment is allowed; bytes after it are not); ZIP64 records
//     where the 32-bit fields overflow, contiguous with it;
//   - a single-disk archive whose central directory ends where the end
//     records begin;
//   - every entry's local header agreeing with its central record: name,
//     flags, method, and sizes and CRC (in the local header, or in the data
//     descriptor that follows the data when flag bit 3 is set);
//   - entries that tile the file: the first local header at byte 0, each
//     entry (header, data, descriptor) ending where the next begins, the last
//     ending where the central directory begins: no prepended, appended,
//     hidden or overlapping bytes;
//   - unique names, UTF-8, relative, without "." or ".." components, empty
//     components, backslashes or NUL;
//   - no encryption, no patch data, no other flag bits than descriptor (3),
//     UTF-8 (11) and the deflate level hints (1, 2); methods stored (0) or
//     deflated (8) only.
//
// The archive's content is not read or inflated here: entries give the byte
// range of their (stored or compressed) data, and the caller decides.
//
//   absl::StatusOr<ZipArchive> zip = ParseZipArchive(file_bytes);
//   const ZipEntry* pickle = zip->Find("archive/data.pkl");
#ifndef SAFETENSORS_PARSER_ZIP_ARCHIVE_H_
#define SAFETENSORS_PARSER_ZIP_ARCHIVE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace safetensors {

inline constexpr uint16_t kZipMethodStored = 0;
inline constexpr uint16_t kZipMethodDeflated = 8;

struct ZipEntry {
  std::string name;
  uint16_t method = kZipMethodStored;
  uint32_t crc32 = 0;  // as recorded; torch.load does not check it
  uint64_t local_header_offset = 0;
  // The entry's data: [data_offset, data_offset + compressed_size) of the
  // file, inside it. For a stored entry compressed_size == size.
  uint64_t data_offset = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;
};

struct ZipArchive {
  // In central directory order.
  std::vector<ZipEntry> entries;
  // Entry index by name.
  absl::flat_hash_map<std::string, size_t> by_name;

  // The entry named exactly `name`; nullptr if none.
  const ZipEntry* Find(absl::string_view name) const;
};

// True when `file` starts as a zip's first local header does ("PK\3\4"):
// how torch.load tells the zip format from the legacy one.
bool StartsLikeZip(absl::Span<const uint8_t> file);

// Told, once the central directory is read, each file range the reader is
// about to read (a local header and the descriptor before it): a caller
// whose bytes come from disk can ask for all of them at once (one cold
// fault per entry, in turn, cost 2 ms each on this project's machine).
using ZipReadHint = std::function<void(uint64_t offset, uint64_t length)>;

// Reads the directory of the archive that is the whole of `file` (the bytes
// are not copied or kept). Errors: kInvalidArchive naming the rule and the
// byte offset.
absl::StatusOr<ZipArchive> ParseZipArchive(absl::Span<const uint8_t> file,
                                           const ZipReadHint& will_read = nullptr);

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_ZIP_ARCHIVE_H_
