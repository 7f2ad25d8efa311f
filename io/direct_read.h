// Reads that bypass the page cache (O_DIRECT), for the parts of a bulk load
// that are not cached. A buffered read of an uncached file fills page-cache
// pages and then copies them into the destination: two new pages per page
// read. A direct read has the device write into the destination alone. On
// this project's benchmark machine that made a cold 1 GiB read into new
// memory 0.31 s instead of 0.75-1.05 s (tools/bench/load_bench). The price is
// that the file is not cached afterwards, so such reads are only for loads
// into owned memory (the pread backend), and only of parts that are not
// cached already (DirectIo::kAuto).
//
//   std::unique_ptr<DirectReads> direct = DirectReads::Open(*file, DirectIo::kAuto);
//   if (direct != nullptr && direct->Wants(offset, bytes)) {
//     absl::StatusOr<bool> done = direct->ReadAt(offset, aligned_buffer, needed);
//   }
#ifndef SAFETENSORS_IO_DIRECT_READ_H_
#define SAFETENSORS_IO_DIRECT_READ_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "io/file.h"

namespace safetensors {

enum class DirectIo {
  // Direct reads for the ranges that are mostly not in the page cache (as a
  // few pages sampled from each tell), when the kernel tells this process
  // which are (it tells the owner of a file, root, or a process that may
  // write it); otherwise none.
  kAuto,
  kNever,   // every read through the page cache
  kAlways,  // direct reads wherever a read's buffer allows them
};

// The file offset, memory address and length of a direct read are multiples
// of this (the logical block size of nearly every device, and a page).
inline constexpr uint64_t kDirectReadAlignment = 4096;

// Which of the file's pages (of sysconf(_SC_PAGESIZE) bytes) are in the page
// cache: mincore's answer, bit 0 of each byte. Empty when it cannot be told
// (an empty file, no mapping). Since Linux 5.2 the kernel answers only for a
// file's owner, a process that may write it, or root; to others it shows
// only the pages they have mapped themselves.
std::vector<unsigned char> CachedPages(const File& file);

// A second, O_DIRECT descriptor of an open file (of the same inode, not
// found again by its name) and, for kAuto, a mapping of it (address space
// only: never read) to ask the kernel which pages are cached. Thread-safe;
// independent of the File once open.
class DirectReads {
 public:
  // Null when `mode` is kNever, when the system refuses O_DIRECT for the file
  // (no /proc to reopen it through, a filesystem without it), or when `mode`
  // is kAuto and the page cache's contents cannot be known or every one of
  // 64 pages spread over the file is cached: then every read is a buffered
  // one. Never an error.
  static std::unique_ptr<DirectReads> Open(const File& file, DirectIo mode);
  ~DirectReads();
  DirectReads(const DirectReads&) = delete;
  DirectReads& operator=(const DirectReads&) = delete;

  // Whether [offset, offset + bytes) should be read directly: always for
  // kAlways; for kAuto, when fewer than half of 4 of its pages, spread
  // evenly over it (the middles of its quarters), are cached now (asking
  // about every page cost 16 ms per GiB, a fifth of a warm load). A range
  // past the end of the file counts the pages that exist.
  bool Wants(uint64_t offset, uint64_t bytes) const;

  // Reads the file from `offset` into `out` (both, and out.size(), multiples
  // of kDirectReadAlignment; out may extend past the end of the file), of
  // which at least the first `needed` bytes must come from the file.
  // Returns false, having read nothing, when the kernel refused the direct
  // read (alignment it does not accept): the caller reads with buffered
  // reads instead, and so does every later call.
  // Errors: kIoError (naming the file and the byte offset); kFileTruncated
  // for a file that ends before offset + needed.
  absl::StatusOr<bool> ReadAt(uint64_t offset, absl::Span<uint8_t> out, uint64_t needed) const;

 private:
  DirectReads(std::string path, uint64_t size, int fd, DirectIo mode,
              absl::Span<uint8_t> mapping)
      : path_(std::move(path)), size_(size), fd_(fd), mode_(mode), mapping_(mapping) {}

  // Of up to `samples` pages spread evenly over the file range (the middles
  // of equal parts), how many were asked about and how many are cached.
  struct Sampled {
    uint64_t pages = 0;
    uint64_t cached = 0;
  };
  Sampled Sample(uint64_t offset, uint64_t bytes, uint64_t samples) const;

  const std::string path_;  // for messages
  const uint64_t size_;      // when opened, for messages
  const int fd_;
  const DirectIo mode_;
  const absl::Span<uint8_t> mapping_;  // kAuto's, for mincore; else empty
  mutable std::atomic<bool> refused_{false};
};

}  // namespace safetensors

#endif  // SAFETENSORS_IO_DIRECT_READ_H_
