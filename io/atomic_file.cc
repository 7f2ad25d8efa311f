#include "io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <vector>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/file.h"
#include "parser/error.h"
#include "parser/status_macros.h"

namespace safetensors {
namespace {

// Linux's NAME_MAX on every common file system; a longer last component is
// ENAMETOOLONG.
constexpr size_t kMaxNameBytes = 255;

}  // namespace

std::string TemporaryNameFor(const std::string& path, absl::string_view unique) {
  const size_t slash = path.rfind('/');
  const size_t name_start = slash == std::string::npos ? 0 : slash + 1;
  absl::string_view name = absl::string_view(path).substr(name_start);
  const std::string suffix = absl::StrCat(".tmp-", unique);
  const size_t room = kMaxNameBytes > suffix.size() ? kMaxNameBytes - suffix.size() : 0;
  if (name.size() > room) {
    size_t keep = room;
    // Back up to a UTF-8 lead byte so the cut never splits a character.
    while (keep > 0 && (static_cast<unsigned char>(name[keep]) & 0xC0) == 0x80) --keep;
    name = name.substr(0, keep);
  }
  return absl::StrCat(absl::string_view(path).substr(0, name_start), name, suffix);
}

absl::StatusOr<AtomicFileWriter> AtomicFileWriter::Create(const std::string& path) {
  // A target that exists keeps its permission bits (and, where allowed, its
  // owner): re-saving a private checkpoint must not publish it.
  struct stat target;
  const bool replacing = ::stat(path.c_str(), &target) == 0 && S_ISREG(target.st_mode);
  std::random_device entropy;
  std::string temp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    const uint64_t random = (uint64_t{entropy()} << 32) | entropy();
    temp = TemporaryNameFor(path, absl::StrCat(::getpid(), "-",
                                               absl::Hex(random, absl::kZeroPad16)));
    // O_EXCL with mode 0666: a new file's permissions are the umask's call.
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno != EEXIST || attempt == 16)) {
      return MakeIoError(errno, absl::StrCat("cannot create a temporary file beside ",
                                             QuoteForMessage(path)));
    }
  }
  AtomicFileWriter writer(path, std::move(temp), fd);
  if (replacing) {
    // Only a privileged process may give a file away; for others the new file
    // stays theirs, as any file they create (documented above). A refusal even
    // to root (a file system without owners) leaves it the same way: not an
    // error.
    const bool owner_kept = ::geteuid() == 0 && ::fchown(fd, target.st_uid, target.st_gid) == 0;
    static_cast<void>(owner_kept);
    if (::fchmod(fd, target.st_mode & 07777) != 0) {
      return MakeIoError(errno, absl::StrCat("cannot give ", QuoteForMessage(writer.temp_path_),
                                             " the permissions of ", QuoteForMessage(path)));
    }
  }
  return writer;
}

AtomicFileWriter::AtomicFileWriter(AtomicFileWriter&& other) noexcept
    : path_(std::move(other.path_)),
      temp_path_(std::move(other.temp_path_)),
      fd_(std::exchange(other.fd_, -1)),
      finished_(other.finished_),
      committed_(std::exchange(other.committed_, true)) {}

AtomicFileWriter::~AtomicFileWriter() { Abandon(); }

void AtomicFileWriter::Abandon() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!committed_) ::unlink(temp_path_.c_str());
  committed_ = true;  // nothing left to undo
}

absl::Status AtomicFileWriter::Append(absl::string_view bytes) {
  if (fd_ < 0) {
    return MakeError(ErrorCode::kInternal,
                     absl::StrCat("append to ", QuoteForMessage(temp_path_), " after finish"));
  }
  while (!bytes.empty()) {
    // One write is at most about 2 GiB on Linux; ask for 1 GiB at a time.
    const ssize_t n = ::write(fd_, bytes.data(), std::min<size_t>(bytes.size(), size_t{1} << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeIoError(errno, absl::StrCat("cannot write ", QuoteForMessage(temp_path_)));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::WriteAt(absl::string_view bytes, uint64_t offset) {
  if (fd_ < 0) {
    return MakeError(ErrorCode::kInternal,
                     absl::StrCat("write to ", QuoteForMessage(temp_path_), " after finish"));
  }
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd_, bytes.data(), std::min<size_t>(bytes.size(), size_t{1} << 30),
                               static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeIoError(errno, absl::StrCat("cannot write ", QuoteForMessage(temp_path_), " at byte ", offset));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::CopyAt(const File& source, uint64_t source_offset, uint64_t length,
                                      uint64_t offset) {
  if (fd_ < 0) {
    return MakeError(ErrorCode::kInternal,
                     absl::StrCat("write to ", QuoteForMessage(temp_path_), " after finish"));
  }
  // The kernel copies (on file systems that share extents, without copying
  // at all); where it cannot (across file systems before Linux 5.19, or a
  // file system without it), a bounded buffer does.
  bool kernel_copies = true;
  std::vector<uint8_t> buffer;
  while (length > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(length, uint64_t{1} << 30));
    if (kernel_copies) {
      loff_t from = static_cast<loff_t>(source_offset);
      loff_t to = static_cast<loff_t>(offset);
      const ssize_t n = ::copy_file_range(source.fd(), &from, fd_, &to, chunk, 0);
      if (n > 0) {
        source_offset += static_cast<uint64_t>(n);
        offset += static_cast<uint64_t>(n);
        length -= static_cast<uint64_t>(n);
        continue;
      }
      if (n == 0) return FileTruncatedError(source.path(), source_offset, source.size());
      if (errno == EINTR) continue;
      if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
        return MakeIoError(errno, absl::StrCat("cannot copy from ", QuoteForMessage(source.path()), " to ",
                                               QuoteForMessage(temp_path_)));
      }
      kernel_copies = false;
      buffer.resize(static_cast<size_t>(std::min<uint64_t>(length, kCopyBufferBytes)));
    }
    const size_t piece = static_cast<size_t>(std::min<uint64_t>(length, buffer.size()));
    const absl::Span<uint8_t> bytes(buffer.data(), piece);
    SAFETENSORS_RETURN_IF_ERROR(source.ReadAt(source_offset, bytes));
    SAFETENSORS_RETURN_IF_ERROR(WriteAt(absl::string_view(reinterpret_cast<const char*>(bytes.data()), piece), offset));
    source_offset += piece;
    offset += piece;
    length -= piece;
  }
  return absl::OkStatus();
}

void AtomicFileWriter::StartWriteback() {
  if (fd_ >= 0) ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);  // 0, 0: the whole file
}

absl::Status AtomicFileWriter::Finish() {
  if (finished_) return absl::OkStatus();
  if (fd_ < 0) {
    return MakeError(ErrorCode::kInternal,
                     absl::StrCat("finish of ", QuoteForMessage(path_), " after it was abandoned"));
  }
  absl::Status status;
  if (::fsync(fd_) != 0) {
    status = MakeIoError(errno, absl::StrCat("cannot flush ", QuoteForMessage(temp_path_)));
  }
  const int closed = ::close(fd_);
  fd_ = -1;
  if (status.ok() && closed != 0) {
    status = MakeIoError(errno, absl::StrCat("cannot close ", QuoteForMessage(temp_path_)));
  }
  if (!status.ok()) {
    Abandon();
    return status;
  }
  finished_ = true;
  return absl::OkStatus();
}

absl::Status AtomicFileWriter::Commit() {
  if (committed_) {
    return MakeError(ErrorCode::kInternal,
                     absl::StrCat("commit of ", QuoteForMessage(path_), " twice"));
  }
  SAFETENSORS_RETURN_IF_ERROR(Finish());
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const absl::Status status =
        MakeIoError(errno, absl::StrCat("cannot rename ", QuoteForMessage(temp_path_), " to ",
                                        QuoteForMessage(path_)));
    Abandon();
    return status;
  }
  committed_ = true;
  // Make the rename itself durable.
  const int dir = ::open(DirectoryOf(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return absl::OkStatus();
}

}  // namespace safetensors
