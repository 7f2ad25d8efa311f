// Checking that downloaded files are the bytes that were published, with no
// network: the hub cache (huggingface_hub) stores each file once under its
// digest, `blobs/<64 hex>` (SHA-256 of a large, LFS file) or `blobs/<40 hex>`
// (the git blob id of a small one), and a snapshot `snapshots/<rev>/<name>`
// is a symlink to it. A file whose real path is such a blob is checked
// against its name; any other file is unverifiable (reported, not a
// failure). No LibTorch.
//
//   absl::StatusOr<std::vector<VerifyTarget>> targets =
//       FindVerifyTargets("~/.cache/huggingface/hub/models--org--name");
//   for (const VerifyResult& r : VerifyFiles(*targets)) { ... r.outcome ... }
#ifndef SAFETENSORS_IO_VERIFY_H_
#define SAFETENSORS_IO_VERIFY_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "io/file_hash.h"

namespace safetensors {

struct ExpectedDigest {
  Digest digest;
  std::string hex;  // lower case
};

// The digest a blob's file name states: 64 hex digits are a SHA-256, 40 a
// git blob id (either case accepted; `hex` is lower case); nullopt for any
// other name.
std::optional<ExpectedDigest> DigestFromBlobName(absl::string_view name);

// One file to check.
struct VerifyTarget {
  std::string shown;                       // as reported (the path as found)
  std::string path;                        // what is opened
  std::optional<ExpectedDigest> expected;  // nullopt: unverifiable
  std::string why_unverifiable;            // when expected is nullopt
};

// Targets for `path`, which is:
//  - a hub-cache repo folder (holding `blobs/` and `snapshots/`): every file
//    of every snapshot;
//  - any other directory (a snapshot, a checkpoint directory): every file
//    under it, in name order (symlinks to directories are reported, not
//    followed, so no link can make the walk loop);
//  - a file, or a symlink to one; a dangling link, or nothing at all, is a
//    target that VerifyFiles reports missing (with the digest a dangling
//    link's blob name states).
// Errors: kIoError when a directory cannot be listed; kBadArgument for a
// walk deeper than 64 folders.
absl::StatusOr<std::vector<VerifyTarget>> FindVerifyTargets(const std::string& path);

enum class VerifyOutcome {
  kOk,            // the content's digest equals the expected one
  kMismatch,      // it differs
  kMissing,       // no file there (a dangling link, a listed name, a PATH)
  kUnverifiable,  // no expected digest (not a blob; a directory link)
  kError,         // it could not be read (a FIFO, unreadable, shrank)
};

// "ok", "mismatch", "missing", "unverifiable", "error".
absl::string_view VerifyOutcomeName(VerifyOutcome outcome);

struct VerifyResult {
  std::string shown;
  VerifyOutcome outcome = VerifyOutcome::kUnverifiable;
  std::optional<Digest> digest;  // the kind checked, when expected
  std::string expected_hex;
  std::string actual_hex;        // for kOk and kMismatch
  uint64_t bytes = 0;            // hashed
  absl::Status error;            // kMissing's and kError's reason
  std::string note;              // kUnverifiable's reason
};

struct VerifyOptions {
  // Files hashed at once, each on a thread of its own; 0: one per core, at
  // least 2 (while one waits for the device, another hashes). The files
  // are dealt out before hashing starts, largest first to the thread with
  // the least so far, and those not in the page cache share one
  // HashReadPool that favours the thread with the most work left.
  int threads = 0;
  // HashOptions::read_mapped for every file (no copy; installs a SIGBUS
  // handler: opt in).
  bool read_mapped = false;
  // Called one call at a time, never backwards, from the hashing threads:
  // bytes hashed so far and in all (each distinct file counted once).
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// Checks every target, one result each in `targets`' order. A file that
// several targets reach (one blob, many snapshots) is hashed once; the
// largest files start first. Never fails as a whole: each file's failure is
// its own result.
std::vector<VerifyResult> VerifyFiles(absl::Span<const VerifyTarget> targets,
                                      const VerifyOptions& options = {});

}  // namespace safetensors

#endif  // SAFETENSORS_IO_VERIFY_H_
