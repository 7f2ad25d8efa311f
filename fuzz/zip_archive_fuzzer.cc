// Arbitrary bytes as a zip archive -> ParseZipArchive, and what an accepted
// archive guarantees: every entry's data inside the file and after its local
// header; entries that tile the file in local-header order, without overlap;
// unique names, each found by Find; stored entries of equal sizes.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "fuzz/header_invariants.h"
#include "parser/error.h"
#include "parser/zip_archive.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safetensors;
  using fuzzing::Require;
  // An exact-size copy, so ASan flags any read one past the end.
  std::unique_ptr<uint8_t[]> copy(new uint8_t[size]);
  if (size > 0) std::memcpy(copy.get(), data, size);
  const absl::StatusOr<ZipArchive> zip = ParseZipArchive(absl::MakeConstSpan(copy.get(), size));
  if (!zip.ok()) {
    Require(GetErrorCode(zip.status()) == ErrorCode::kInvalidArchive, "refusals are InvalidArchive");
    return 0;
  }
  std::vector<const ZipEntry*> by_offset;
  for (const ZipEntry& entry : zip->entries) {
    Require(entry.data_offset > entry.local_header_offset, "data after its local header");
    Require(entry.compressed_size <= size && entry.data_offset <= size - entry.compressed_size,
            "data inside the file");
    Require(entry.method != kZipMethodStored || entry.size == entry.compressed_size,
            "stored entries keep their size");
    Require(zip->Find(entry.name) == &entry, "each name finds its own entry");
    by_offset.push_back(&entry);
  }
  Require(zip->by_name.size() == zip->entries.size(), "names are unique");
  std::sort(by_offset.begin(), by_offset.end(), [](const ZipEntry* a, const ZipEntry* b) {
    return a->local_header_offset < b->local_header_offset;
  });
  uint64_t end = 0;
  for (const ZipEntry* entry : by_offset) {
    Require(entry->local_header_offset >= end, "entries do not overlap");
    Require(by_offset.front() != entry || entry->local_header_offset == 0, "the first entry starts the file");
    end = entry->data_offset + entry->compressed_size;
  }
  return 0;
}
