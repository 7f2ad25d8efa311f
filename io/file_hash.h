// The digest of a whole file, as the hub cache names its blobs: SHA-256 of
// the content (large files, `blobs/<64 hex>`) or git's blob id (small files,
// `blobs/<40 hex>`: SHA-1 of "blob <size>\0" followed by the content).
// Hashing is OpenSSL's libcrypto (which uses the CPU's SHA extensions); this
// file only feeds it: a file not in the page cache from direct reads that a
// pool of reader threads keeps ahead of the hash; a cached one through a
// mapping when the caller opts in (no copy; threads fault the next windows
// in ahead of the hash), else in small reads that stay in the CPU's cache
// with the kernel asked to read far ahead. No LibTorch.
//
//   absl::StatusOr<std::shared_ptr<File>> file = File::Open(path);
//   absl::StatusOr<std::string> hex = HashFile(**file, Digest::kSha256);
#ifndef SAFETENSORS_IO_FILE_HASH_H_
#define SAFETENSORS_IO_FILE_HASH_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "io/direct_read.h"
#include "io/file.h"

namespace safetensors {

enum class Digest {
  kSha256,     // sha256sum's digest
  kGitBlobId,  // git hash-object's: SHA-1 of "blob <size>\0" + content
};

// "sha256" or "git-sha1": the names the CLI and its JSON use.
absl::string_view DigestName(Digest digest);
// Hex digits in the digest: 64 or 40.
size_t DigestHexLength(Digest digest);

// The threads that read files not in the page cache for HashFile (the ring
// of direct reads below), shared by the files one hashes at once: a piece is
// read for the file whose hashing thread has the most work left
// (HashOptions::bytes_after), so that the thread that ends last waits least
// for the device and the others take what the device has to spare.
// VerifyFiles keeps one for its workers; HashFile makes its own when given
// none. It lends ring buffers to four files at a time (512 MiB; a fifth
// waits for one to finish) and keeps them for the next files until it goes.
// Its threads start with the first file that needs them. Thread-safe; must
// outlive every HashFile call given it.
class HashReadPool {
 public:
  HashReadPool();
  ~HashReadPool();
  HashReadPool(const HashReadPool&) = delete;
  HashReadPool& operator=(const HashReadPool&) = delete;

  struct Shared;  // file_hash.cc's
  Shared& shared() const { return *shared_; }

 private:
  std::unique_ptr<Shared> shared_;
};

struct HashOptions {
  // Hash the page cache in place through a read-only mapping, copying
  // nothing (a warm file then hashes at the speed of SHA alone), with reads
  // under a SIGBUS guard so that a file truncated meanwhile is
  // kFileTruncated, not a crash. This installs a process-wide SIGBUS handler
  // (io/sigbus_guard.h, chaining to any before it): opt in. Falls back to
  // reads where a file cannot be mapped.
  bool read_mapped = false;
  // Where the file is not in the page cache (kAuto: as DirectReads samples
  // it), read it around the cache: the eight threads of a HashReadPool read
  // 4 MiB pieces with O_DIRECT into a ring of 32 buffers (128 MiB, on huge
  // pages), ahead of the hash. A cold file then costs the device's time or
  // the hash's, whichever is longer, not their sum, and is not left in the
  // page cache afterwards. kNever: always as read_mapped says.
  DirectIo direct_io = DirectIo::kAuto;
  // The readers of that ring; null: threads of this call's own.
  HashReadPool* read_pool = nullptr;
  // Bytes the calling thread will hash after this file (VerifyFiles plans
  // them): the pool's readers favour the file whose thread has the most
  // work left, this file's unread bytes included.
  uint64_t bytes_after = 0;
  // Called on the calling thread with the bytes hashed since the last call.
  std::function<void(uint64_t bytes)> on_bytes;
};

// The lower-case hex digest of all of `file` (size() bytes as seen at open).
// Not cached (direct_io): through the ring of direct reads above. Else
// mapped (read_mapped): hashed in 16 MiB steps under a SIGBUS guard while
// two threads populate the mapping up to 64 MiB ahead. Else: 64 KiB reads
// on the calling thread, the page cache asked to fill 64 MiB ahead
// (posix_fadvise WILLNEED).
// Errors: kIoError; kFileTruncated when the file shrank; kOutOfMemory;
// kInternal if libcrypto fails.
absl::StatusOr<std::string> HashFile(const File& file, Digest digest,
                                     const HashOptions& options = {});

}  // namespace safetensors

#endif  // SAFETENSORS_IO_FILE_HASH_H_
