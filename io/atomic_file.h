// Replacing a file so that a reader sees the complete old file or the
// complete new one, never a mixture, even if the writer is killed: the bytes
// go to a temporary file beside the target, which is flushed (fsync) and then
// renamed over the target.
//
//   absl::StatusOr<AtomicFileWriter> w = AtomicFileWriter::Create("model.safetensors");
//   absl::Status s = w->Append(bytes);
//   if (s.ok()) s = w->Commit();   // without Commit, the temporary is removed
//
// The temporary is "<target name>.tmp-<pid>-<random hex>" in the target's
// directory, the target name cut (at a UTF-8 boundary) so that the whole name
// fits the 255-byte limit of a file name. A writer killed before Commit's
// rename leaves that file behind and the target untouched; it is safe to
// delete once its process (the pid in its name) is gone.
//
// Permissions: a new target follows the umask (mode 0666 & ~umask, as for any
// new file). Replacing an existing target keeps its permission bits (a 0600
// checkpoint stays private). Its owner and group are kept when the process
// may set them (as root); otherwise the new file belongs to the writing user
// and its group, as any file that user creates.
#ifndef SAFETENSORS_IO_ATOMIC_FILE_H_
#define SAFETENSORS_IO_ATOMIC_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "io/file.h"

namespace safetensors {

class AtomicFileWriter {
 public:
  // Creates the temporary file for replacing `path`.
  // Errors: kIoError (the directory is missing or not writable...).
  static absl::StatusOr<AtomicFileWriter> Create(const std::string& path);

  AtomicFileWriter(AtomicFileWriter&& other) noexcept;
  AtomicFileWriter& operator=(AtomicFileWriter&&) = delete;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  // Without a successful Commit: closes and removes the temporary file.
  ~AtomicFileWriter();

  // Appends `bytes` to the temporary file. Errors: kIoError.
  absl::Status Append(absl::string_view bytes);

  // Positional writes, which leave the file position alone and may run on
  // several threads at once (not alongside Append): `bytes` at `offset`, and
  // `length` bytes of `source` from `source_offset` at `offset`, the latter
  // with copy_file_range where the kernel can (no copy through user memory),
  // else through a buffer of at most kCopyBufferBytes.
  // Errors: kIoError; kFileTruncated when `source` ends first.
  absl::Status WriteAt(absl::string_view bytes, uint64_t offset);
  absl::Status CopyAt(const File& source, uint64_t source_offset, uint64_t length, uint64_t offset);
  static constexpr uint64_t kCopyBufferBytes = uint64_t{8} << 20;

  // Asks the kernel to start writing every page written so far that is not
  // already on its way to disk, without waiting for it, so that the disk
  // writes what is done while the rest is still being copied, instead of all
  // of it waiting for Finish's fsync. A hint (sync_file_range): it cannot
  // fail, and Finish still makes every byte durable.
  void StartWriteback();

  // Flushes the temporary file to disk and closes it, without renaming: for a
  // writer of several files that renames them only once all are complete.
  // Errors: kIoError (the temporary is then removed).
  absl::Status Finish();

  // Finishes (if not yet done), renames the temporary file over the target
  // and makes the rename durable. At most once. Errors: kIoError (the target
  // is then untouched and the temporary removed).
  absl::Status Commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  AtomicFileWriter(std::string path, std::string temp_path, int fd)
      : path_(std::move(path)), temp_path_(std::move(temp_path)), fd_(fd) {}
  void Abandon();

  std::string path_;
  std::string temp_path_;
  int fd_;
  bool finished_ = false;
  bool committed_ = false;
};

// The temporary name for `path` (exposed for tests): "<dir>/<name>.tmp-
// <pid>-<16 hex digits>", with <name> cut so the last component is at most
// 255 bytes.
std::string TemporaryNameFor(const std::string& path, absl::string_view unique);

}  // namespace safetensors

#endif  // SAFETENSORS_IO_ATOMIC_FILE_H_
