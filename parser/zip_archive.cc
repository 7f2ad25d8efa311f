#include "parser/zip_archive.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "parser/byte_cursor.h"
#include "parser/checked_math.h"
#include "parser/error.h"
#include "parser/status_macros.h"
#include "parser/utf8.h"

namespace safetensors {
namespace {

// Record signatures and fixed sizes (PKWARE's APPNOTE.TXT, 4.3).
constexpr uint64_t kLocalHeaderSignature = 0x04034b50;
constexpr uint64_t kCentralHeaderSignature = 0x02014b50;
constexpr uint64_t kEndSignature = 0x06054b50;
constexpr uint64_t kZip64EndSignature = 0x06064b50;
constexpr uint64_t kZip64LocatorSignature = 0x07064b50;
constexpr uint64_t kDescriptorSignature = 0x08074b50;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndSize = 22;
constexpr size_t kZip64EndFixedSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kMaxCommentSize = 0xffff;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint64_t kSaturated16 = 0xffff;
constexpr uint64_t kSaturated32 = 0xffffffff;

// Flag bits (APPNOTE 4.4.4).
constexpr uint64_t kFlagEncrypted = 1u << 0;
constexpr uint64_t kFlagDescriptor = 1u << 3;
constexpr uint64_t kFlagStrongEncryption = 1u << 6;
constexpr uint64_t kFlagMaskedHeader = 1u << 13;
constexpr uint64_t kAllowedFlags = (1u << 1) | (1u << 2) | kFlagDescriptor | (1u << 11);

absl::Status ArchiveError(uint64_t offset, absl::string_view rule) {
  return MakeError(ErrorCode::kInvalidArchive, absl::StrCat("zip archive: ", rule, " (at byte ", offset, ")"));
}

absl::Status EntryError(const std::string& name, uint64_t offset, absl::string_view rule) {
  return ArchiveError(offset, absl::StrCat("entry ", QuoteForMessage(name), ": ", rule));
}

// Little-endian fields of a fixed-size record whose length has been checked:
// a cursor over exactly the record, so every Take succeeds.
class RecordReader {
 public:
  explicit RecordReader(absl::Span<const uint8_t> record) : cursor_(record) {}
  uint64_t Next(size_t width) {
    uint64_t value = 0;
    if (!cursor_.TakeLittleEndian(width, &value)) ok_ = false;
    return value;
  }
  bool ok() const { return ok_; }

 private:
  ByteCursor cursor_;
  bool ok_ = true;
};

// The `size` bytes at `offset` of `file`, if they are inside it.
std::optional<absl::Span<const uint8_t>> BytesAt(absl::Span<const uint8_t> file, uint64_t offset,
                                                 uint64_t size) {
  if (offset > file.size() || size > file.size() - offset) return std::nullopt;
  return file.subspan(static_cast<size_t>(offset), static_cast<size_t>(size));
}

// The fields of an end-of-central-directory record, widened to 64 bits.
struct EndRecord {
  uint64_t offset = 0;  // where the end records begin (ZIP64 ones included)
  uint64_t entries = 0;
  uint64_t directory_size = 0;
  uint64_t directory_offset = 0;
};

// The one end record whose comment reaches exactly the end of the file.
absl::StatusOr<uint64_t> FindEndRecord(absl::Span<const uint8_t> file) {
  if (file.size() < kEndSize) {
    return ArchiveError(0, absl::StrCat("a ", file.size(), "-byte file has no end record"));
  }
  const uint64_t last = file.size() - kEndSize;
  const uint64_t first = last > kMaxCommentSize ? last - kMaxCommentSize : 0;
  std::optional<uint64_t> found;
  for (uint64_t at = last + 1; at-- > first;) {
    RecordReader record(file.subspan(static_cast<size_t>(at), kEndSize));
    if (record.Next(4) != kEndSignature) continue;
    record.Next(16);
    const uint64_t comment_size = record.Next(2);
    if (at + kEndSize + comment_size != file.size()) continue;
    if (found.has_value()) {
      return ArchiveError(at, absl::StrCat("a second end record (the first at byte ", *found,
                                           "): readers would disagree on which is the archive"));
    }
    found = at;
  }
  if (!found.has_value()) {
    return ArchiveError(last, "no end-of-central-directory record ends at the end of the file");
  }
  return *found;
}

absl::StatusOr<EndRecord> ReadEndRecords(absl::Span<const uint8_t> file) {
  SAFETENSORS_ASSIGN_OR_RETURN(const uint64_t end_offset, FindEndRecord(file));
  RecordReader end(file.subspan(static_cast<size_t>(end_offset), kEndSize));
  end.Next(4);
  const uint64_t disk = end.Next(2);
  const uint64_t directory_disk = end.Next(2);
  const uint64_t disk_entries = end.Next(2);
  EndRecord result;
  result.offset = end_offset;
  result.entries = end.Next(2);
  result.directory_size = end.Next(4);
  result.directory_offset = end.Next(4);
  if (disk != 0 || directory_disk != 0 || disk_entries != result.entries) {
    return ArchiveError(end_offset, "a multi-disk archive");
  }
  // ZIP64: a locator right before the end record names the ZIP64 end record,
  // which must end where the locator begins. miniz (torch's writer) adds them
  // to every archive, needed or not; where they are, they are read (as
  // Python's zipfile does) and must agree with the end record.
  const bool saturated = result.entries == kSaturated16 || result.directory_size == kSaturated32 ||
                         result.directory_offset == kSaturated32;
  uint64_t locator_signature = 0;
  const uint64_t locator_offset = end_offset >= kZip64LocatorSize ? end_offset - kZip64LocatorSize : 0;
  if (end_offset >= kZip64LocatorSize) {
    locator_signature = RecordReader(file.subspan(static_cast<size_t>(locator_offset), 4)).Next(4);
  }
  if (locator_signature != kZip64LocatorSignature) {
    if (saturated) return ArchiveError(end_offset, "saturated end record without a ZIP64 locator");
    return result;
  }
  RecordReader locator(file.subspan(static_cast<size_t>(locator_offset), kZip64LocatorSize));
  locator.Next(4);
  const uint64_t locator_disk = locator.Next(4);
  const uint64_t zip64_offset = locator.Next(8);
  const uint64_t disks = locator.Next(4);
  if (locator_disk != 0 || disks != 1) return ArchiveError(locator_offset, "a multi-disk archive");
  std::optional<absl::Span<const uint8_t>> fixed = BytesAt(file, zip64_offset, kZip64EndFixedSize);
  if (!fixed.has_value() || zip64_offset + kZip64EndFixedSize > locator_offset) {
    return ArchiveError(locator_offset, "ZIP64 locator points outside the file");
  }
  RecordReader zip64_end(*fixed);
  if (zip64_end.Next(4) != kZip64EndSignature) {
    return ArchiveError(zip64_offset, "no ZIP64 end record where the locator points");
  }
  const uint64_t record_size = zip64_end.Next(8);
  // The record's size field counts the bytes after itself (12 so far).
  if (record_size != locator_offset - zip64_offset - 12) {
    return ArchiveError(zip64_offset, "ZIP64 end record does not end where its locator begins");
  }
  zip64_end.Next(4);  // versions
  const uint64_t zip64_disk = zip64_end.Next(4);
  const uint64_t zip64_directory_disk = zip64_end.Next(4);
  const uint64_t zip64_disk_entries = zip64_end.Next(8);
  const uint64_t zip64_entries = zip64_end.Next(8);
  const uint64_t zip64_directory_size = zip64_end.Next(8);
  const uint64_t zip64_directory_offset = zip64_end.Next(8);
  if (zip64_disk != 0 || zip64_directory_disk != 0 || zip64_disk_entries != zip64_entries) {
    return ArchiveError(zip64_offset, "a multi-disk archive");
  }
  // A 32-bit field either agrees with its 64-bit twin or is saturated.
  const auto agrees = [](uint64_t narrow, uint64_t all_ones, uint64_t wide) {
    return narrow == all_ones || narrow == wide;
  };
  if (!agrees(result.entries, kSaturated16, zip64_entries) ||
      !agrees(result.directory_size, kSaturated32, zip64_directory_size) ||
      !agrees(result.directory_offset, kSaturated32, zip64_directory_offset)) {
    return ArchiveError(end_offset, "end record and ZIP64 end record disagree");
  }
  result.offset = zip64_offset;
  result.entries = zip64_entries;
  result.directory_size = zip64_directory_size;
  result.directory_offset = zip64_directory_offset;
  return result;
}

absl::Status CheckName(const std::string& name, uint64_t offset) {
  if (name.empty()) return ArchiveError(offset, "an entry with an empty name");
  if (FindInvalidUtf8(BytesOf(name)).has_value()) {
    return EntryError(name, offset, "name is not UTF-8");
  }
  if (name.find('\0') != std::string::npos || name.find('\\') != std::string::npos) {
    return EntryError(name, offset, "name holds a NUL or a backslash");
  }
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    if (part.empty() || part == "." || part == "..") {
      return EntryError(name, offset, "name is not a relative path of plain components");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckFlags(const std::string& name, uint64_t offset, uint64_t flags) {
  if ((flags & (kFlagEncrypted | kFlagStrongEncryption | kFlagMaskedHeader)) != 0) {
    return EntryError(name, offset, "encrypted");
  }
  if ((flags & ~kAllowedFlags) != 0) {
    return EntryError(name, offset, absl::StrCat("flag bits 0x", absl::Hex(flags & ~kAllowedFlags),
                                                 " (patch data or reserved) are not read here"));
  }
  return absl::OkStatus();
}

// The ZIP64 extra field's data among `extra`'s records, if there is one.
// Every record must fit exactly; a second ZIP64 record is refused.
absl::StatusOr<std::optional<absl::Span<const uint8_t>>> FindZip64Extra(
    absl::Span<const uint8_t> extra, const std::string& name, uint64_t offset) {
  ByteCursor cursor(extra);
  std::optional<absl::Span<const uint8_t>> zip64;
  while (!cursor.AtEnd()) {
    uint64_t id = 0;
    uint64_t size = 0;
    absl::Span<const uint8_t> data;
    if (!cursor.TakeLittleEndian(2, &id) || !cursor.TakeLittleEndian(2, &size) ||
        !cursor.Take(static_cast<size_t>(size), &data)) {
      return EntryError(name, offset, "extra field records overrun the extra field");
    }
    if (id != kZip64ExtraId) continue;
    if (zip64.has_value()) return EntryError(name, offset, "two ZIP64 extra fields");
    zip64 = data;
  }
  return zip64;
}

struct CentralRecord {
  ZipEntry entry;
  uint64_t flags = 0;
  uint64_t record_offset = 0;
};

// Reads the central record at `cursor`'s position; `file_offset` is where it
// lies in the file.
absl::StatusOr<CentralRecord> ReadCentralRecord(ByteCursor& cursor, uint64_t file_offset) {
  absl::Span<const uint8_t> fixed;
  if (!cursor.Take(kCentralHeaderSize, &fixed)) {
    return ArchiveError(file_offset, "central directory ends inside a record");
  }
  RecordReader record(fixed);
  if (record.Next(4) != kCentralHeaderSignature) {
    return ArchiveError(file_offset, "not a central directory record");
  }
  record.Next(4);  // versions
  CentralRecord result;
  result.record_offset = file_offset;
  result.flags = record.Next(2);
  result.entry.method = static_cast<uint16_t>(record.Next(2));
  record.Next(4);  // time and date
  result.entry.crc32 = static_cast<uint32_t>(record.Next(4));
  uint64_t compressed_size = record.Next(4);
  uint64_t size = record.Next(4);
  const uint64_t name_size = record.Next(2);
  const uint64_t extra_size = record.Next(2);
  const uint64_t comment_size = record.Next(2);
  uint64_t disk = record.Next(2);
  record.Next(6);  // attributes
  uint64_t local_offset = record.Next(4);
  absl::Span<const uint8_t> name;
  absl::Span<const uint8_t> extra;
  absl::Span<const uint8_t> comment;
  if (!cursor.Take(static_cast<size_t>(name_size), &name) ||
      !cursor.Take(static_cast<size_t>(extra_size), &extra) ||
      !cursor.Take(static_cast<size_t>(comment_size), &comment)) {
    return ArchiveError(file_offset, "central directory ends inside a record");
  }
  result.entry.name.assign(name.begin(), name.end());
  SAFETENSORS_RETURN_IF_ERROR(CheckName(result.entry.name, file_offset));
  SAFETENSORS_RETURN_IF_ERROR(CheckFlags(result.entry.name, file_offset, result.flags));
  SAFETENSORS_ASSIGN_OR_RETURN(std::optional<absl::Span<const uint8_t>> zip64,
                               FindZip64Extra(extra, result.entry.name, file_offset));
  // The ZIP64 field holds, in this order, each saturated field's real value.
  if (zip64.has_value()) {
    ByteCursor wide(*zip64);
    const auto widen = [&](uint64_t* field, uint64_t saturated, size_t width) {
      return *field != saturated || wide.TakeLittleEndian(width, field);
    };
    if (!widen(&size, kSaturated32, 8) || !widen(&compressed_size, kSaturated32, 8) ||
        !widen(&local_offset, kSaturated32, 8) || !widen(&disk, kSaturated16, 4) || !wide.AtEnd()) {
      return EntryError(result.entry.name, file_offset,
                        "ZIP64 extra field does not hold exactly the saturated fields");
    }
  } else if (size == kSaturated32 || compressed_size == kSaturated32 ||
             local_offset == kSaturated32 || disk == kSaturated16) {
    return EntryError(result.entry.name, file_offset, "saturated field without a ZIP64 extra field");
  }
  if (disk != 0) return EntryError(result.entry.name, file_offset, "a multi-disk archive");
  if (result.entry.method == kZipMethodStored) {
    if (compressed_size != size) {
      return EntryError(result.entry.name, file_offset, "stored entry whose two sizes differ");
    }
  } else if (result.entry.method != kZipMethodDeflated) {
    return EntryError(result.entry.name, file_offset,
                      absl::StrCat("compression method ", result.entry.method,
                                   " (only stored and deflated are read)"));
  }
  result.entry.size = size;
  result.entry.compressed_size = compressed_size;
  result.entry.local_header_offset = local_offset;
  return result;
}

// Checks the local header of `central` against it, and returns the offset
// where the entry (header, data and descriptor) ends.
absl::StatusOr<uint64_t> ReadLocalHeader(absl::Span<const uint8_t> file, CentralRecord& central) {
  ZipEntry& entry = central.entry;
  const uint64_t at = entry.local_header_offset;
  std::optional<absl::Span<const uint8_t>> fixed = BytesAt(file, at, kLocalHeaderSize);
  if (!fixed.has_value()) return EntryError(entry.name, at, "local header outside the file");
  RecordReader record(*fixed);
  if (record.Next(4) != kLocalHeaderSignature) {
    return EntryError(entry.name, at, "no local header where the central directory points");
  }
  record.Next(2);  // version needed
  const uint64_t flags = record.Next(2);
  const uint64_t method = record.Next(2);
  record.Next(4);  // time and date
  const uint64_t crc = record.Next(4);
  uint64_t compressed_size = record.Next(4);
  uint64_t size = record.Next(4);
  const uint64_t name_size = record.Next(2);
  const uint64_t extra_size = record.Next(2);
  std::optional<absl::Span<const uint8_t>> name = BytesAt(file, at + kLocalHeaderSize, name_size);
  std::optional<absl::Span<const uint8_t>> extra =
      BytesAt(file, at + kLocalHeaderSize + name_size, extra_size);
  if (!name.has_value() || !extra.has_value()) {
    return EntryError(entry.name, at, "local header outside the file");
  }
  if (TextOf(*name) != entry.name) {
    return EntryError(entry.name, at, "local header names another file than the central directory");
  }
  if (flags != central.flags || method != entry.method) {
    return EntryError(entry.name, at, "local header and central directory disagree on flags or method");
  }
  SAFETENSORS_ASSIGN_OR_RETURN(std::optional<absl::Span<const uint8_t>> zip64,
                               FindZip64Extra(*extra, entry.name, at));
  entry.data_offset = at + kLocalHeaderSize + name_size + extra_size;
  if (!BytesAt(file, entry.data_offset, entry.compressed_size).has_value()) {
    return EntryError(entry.name, entry.data_offset,
                      absl::StrCat(entry.compressed_size, " bytes of data run past the end of the file"));
  }
  uint64_t end = entry.data_offset + entry.compressed_size;
  const auto sizes_agree = [&](uint64_t local_crc, uint64_t local_compressed, uint64_t local_size) {
    return local_crc == entry.crc32 && local_compressed == entry.compressed_size &&
           local_size == entry.size;
  };
  if ((flags & kFlagDescriptor) == 0) {
    if (zip64.has_value() && (size == kSaturated32 || compressed_size == kSaturated32)) {
      ByteCursor wide(*zip64);
      if ((size == kSaturated32 && !wide.TakeLittleEndian(8, &size)) ||
          (compressed_size == kSaturated32 && !wide.TakeLittleEndian(8, &compressed_size))) {
        return EntryError(entry.name, at, "local ZIP64 extra field lacks the saturated sizes");
      }
    }
    if (!sizes_agree(crc, compressed_size, size)) {
      return EntryError(entry.name, at, "local header and central directory disagree on sizes or CRC");
    }
    return end;
  }
  // Flag bit 3: the header's CRC and sizes are zero and a descriptor follows
  // the data, with 8-byte sizes when the header has a ZIP64 field (miniz,
  // torch's writer, adds one to any entry written past 4 GiB).
  if (crc != 0 || (compressed_size != 0 && compressed_size != kSaturated32) ||
      (size != 0 && size != kSaturated32)) {
    return EntryError(entry.name, at, "sizes in a local header whose flags defer them to a descriptor");
  }
  const size_t width = zip64.has_value() ? 8 : 4;
  std::optional<absl::Span<const uint8_t>> descriptor = BytesAt(file, end, 8 + 2 * width);
  if (!descriptor.has_value()) return EntryError(entry.name, end, "data descriptor outside the file");
  RecordReader fields(*descriptor);
  if (fields.Next(4) != kDescriptorSignature) {
    return EntryError(entry.name, end, "no data descriptor signature after the data");
  }
  const uint64_t descriptor_crc = fields.Next(4);
  const uint64_t descriptor_compressed = fields.Next(width);
  const uint64_t descriptor_size = fields.Next(width);
  if (!sizes_agree(descriptor_crc, descriptor_compressed, descriptor_size)) {
    return EntryError(entry.name, end, "data descriptor and central directory disagree on sizes or CRC");
  }
  return end + descriptor->size();
}

}  // namespace

const ZipEntry* ZipArchive::Find(absl::string_view name) const {
  auto it = by_name.find(name);
  return it == by_name.end() ? nullptr : &entries[it->second];
}

bool StartsLikeZip(absl::Span<const uint8_t> file) {
  uint64_t signature = 0;
  return ByteCursor(file).TakeLittleEndian(4, &signature) && signature == kLocalHeaderSignature;
}

absl::StatusOr<ZipArchive> ParseZipArchive(absl::Span<const uint8_t> file, const ZipReadHint& will_read) {
  SAFETENSORS_ASSIGN_OR_RETURN(const EndRecord end, ReadEndRecords(file));
  uint64_t directory_end = 0;
  if (!CheckedAdd(end.directory_offset, end.directory_size, &directory_end) ||
      directory_end != end.offset) {
    return ArchiveError(end.directory_offset, "central directory does not end where the end records begin");
  }
  // Each record takes at least kCentralHeaderSize bytes: a count the
  // directory cannot hold is refused before anything is reserved for it.
  if (end.entries > end.directory_size / kCentralHeaderSize) {
    return ArchiveError(end.offset, absl::StrCat(end.entries, " entries cannot fit in a ",
                                                 end.directory_size, "-byte central directory"));
  }
  ByteCursor directory(file.subspan(static_cast<size_t>(end.directory_offset),
                                    static_cast<size_t>(end.directory_size)));
  std::vector<CentralRecord> records;
  records.reserve(static_cast<size_t>(end.entries));
  ZipArchive archive;
  for (uint64_t i = 0; i < end.entries; ++i) {
    const uint64_t offset = end.directory_offset + directory.position();
    SAFETENSORS_ASSIGN_OR_RETURN(CentralRecord record, ReadCentralRecord(directory, offset));
    if (!archive.by_name.emplace(record.entry.name, records.size()).second) {
      return EntryError(record.entry.name, offset, "a second entry of the same name");
    }
    records.push_back(std::move(record));
  }
  if (!directory.AtEnd()) {
    return ArchiveError(end.directory_offset + directory.position(),
                        "bytes after the last central directory record");
  }
  if (will_read) {
    // Each local header with its extra field (torch's pads to 64 bytes), and
    // the previous entry's descriptor just before it.
    constexpr uint64_t kBefore = 24;
    constexpr uint64_t kExtraGuess = 128;
    for (const CentralRecord& record : records) {
      const uint64_t at = record.entry.local_header_offset;
      const uint64_t begin = at > kBefore ? at - kBefore : 0;
      will_read(begin, at - begin + kLocalHeaderSize + record.entry.name.size() + kExtraGuess);
    }
  }
  // The entries must tile [0, directory_offset) in local-header order.
  std::vector<size_t> order(records.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return records[a].entry.local_header_offset < records[b].entry.local_header_offset;
  });
  uint64_t expected_offset = 0;
  for (size_t i : order) {
    CentralRecord& record = records[i];
    if (record.entry.local_header_offset != expected_offset) {
      return EntryError(record.entry.name, record.entry.local_header_offset,
                        absl::StrCat("local header is not where the previous entry ends (byte ",
                                     expected_offset, "): hidden, prepended or overlapping bytes"));
    }
    SAFETENSORS_ASSIGN_OR_RETURN(expected_offset, ReadLocalHeader(file, record));
  }
  if (expected_offset != end.directory_offset) {
    return ArchiveError(expected_offset, absl::StrCat("bytes between the last entry and the central "
                                                      "directory at byte ", end.directory_offset));
  }
  archive.entries.reserve(records.size());
  for (CentralRecord& record : records) archive.entries.push_back(std::move(record.entry));
  return archive;
}

}  // namespace safetensors
