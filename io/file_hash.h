// The digest of a whole file, as the hub cache names its blobs: SHA-256 of
// the content (large files, `blobs/<64 hex>`) or git's blob id (small files,
// `blobs/<40 hex>`: SHA-1 of "blob <size>\0" followed by the content).
// Hashing is OpenSSL's libcrypto (which uses the CPU's SHA extensions); this
// file only feeds it: one thread reads the next blocks while the caller's
// thread hashes the last, so a file hashes at the speed of the slower of the
// two. No LibTorch.
//
//   absl::StatusOr<std::shared_ptr<File>> file = File::Open(path);
//   absl::StatusOr<std::string> hex = HashFile(**file, Digest::kSha256);
#ifndef SAFETENSORS_IO_FILE_HASH_H_
#define SAFETENSORS_IO_FILE_HASH_H_

#include <cstdint>
#include <functional>
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

struct HashOptions {
  // Whether uncached parts are read with O_DIRECT (not through the page
  // cache, so verifying a large checkpoint does not evict what else is
  // cached): kAuto reads directly what the kernel says is not cached.
  DirectIo direct_io = DirectIo::kAuto;
  // Called on the calling thread with the bytes hashed since the last call.
  std::function<void(uint64_t bytes)> on_bytes;
};

// The lower-case hex digest of all of `file` (size() bytes as seen at open).
// Reads in 4 MiB blocks on a second thread for files larger than a block.
// Errors: kIoError; kFileTruncated when the file shrank; kOutOfMemory;
// kInternal if libcrypto fails.
absl::StatusOr<std::string> HashFile(const File& file, Digest digest,
                                     const HashOptions& options = {});

}  // namespace safetensors

#endif  // SAFETENSORS_IO_FILE_HASH_H_
