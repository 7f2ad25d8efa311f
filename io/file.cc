#include "io/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "absl/strings/str_cat.h"
#include "parser/error.h"

namespace safetensors {

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseNameOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

namespace {

// What a non-regular file is, for the message that refuses it.
absl::string_view FileTypeName(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISDIR(mode)) return "a directory";
  return "not a file of a known type";
}

absl::Status NotRegularFile(const std::string& path, mode_t mode) {
  return MakeError(ErrorCode::kNotRegularFile,
                   absl::StrCat(QuoteForMessage(path), " is ", FileTypeName(mode),
                                ", not a regular file"));
}

}  // namespace

absl::StatusOr<std::shared_ptr<File>> File::Open(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer,
  // forever if none comes (an archive or a repository can carry one), and
  // O_NOCTTY: a terminal device never becomes ours. A regular file ignores
  // both; the flag is cleared below before any read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    const int error = errno;
    // A socket cannot be opened at all (ENXIO): say what it is.
    struct stat st;
    if (error == ENXIO && ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      return NotRegularFile(path, st.st_mode);
    }
    return MakeIoError(error, absl::StrCat("cannot open ", QuoteForMessage(path)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int error = errno;
    ::close(fd);
    return MakeIoError(error, absl::StrCat("cannot stat ", QuoteForMessage(path)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return NotRegularFile(path, st.st_mode);
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    const int error = errno;
    ::close(fd);
    return MakeIoError(error, absl::StrCat("cannot clear O_NONBLOCK on ", QuoteForMessage(path)));
  }
  return std::shared_ptr<File>(new File(fd, static_cast<uint64_t>(st.st_size), path));
}

absl::Status FileTruncatedError(const std::string& path, uint64_t end, uint64_t expected_size) {
  return MakeError(ErrorCode::kFileTruncated,
                   absl::StrCat(QuoteForMessage(path), " ended at byte ", end, " (it had ",
                                expected_size, " bytes when opened)",
                                end < expected_size ? "; it shrank while open" : ""));
}

File::~File() { ::close(fd_); }

absl::Status File::ReadAt(uint64_t offset, absl::Span<uint8_t> out) const {
  const absl::Span<uint8_t> one[] = {out};
  return ReadVAt(offset, one);
}

absl::Status File::ReadVAt(uint64_t offset, absl::Span<const absl::Span<uint8_t>> buffers) const {
  if (buffers.size() > IOV_MAX) {
    return MakeError(ErrorCode::kInternal,
                     absl::StrCat("a read into ", buffers.size(), " buffers; at most ", IOV_MAX));
  }
  iovec vectors[IOV_MAX];
  size_t count = 0;
  for (absl::Span<uint8_t> b : buffers) {
    if (!b.empty()) vectors[count++] = iovec{b.data(), b.size()};
  }
  iovec* pending = vectors;
  uint64_t done = 0;
  while (count > 0) {
    const ssize_t n = ::preadv(fd_, pending, static_cast<int>(count),
                               static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeIoError(errno, absl::StrCat("cannot read ", QuoteForMessage(path_),
                                             " at byte ", offset + done));
    }
    if (n == 0) return FileTruncatedError(path_, offset + done, size_);
    done += static_cast<uint64_t>(n);
    // Skip the buffers filled; shorten the one filled in part.
    size_t left = static_cast<size_t>(n);
    while (count > 0 && left >= pending->iov_len) {
      left -= pending->iov_len;
      ++pending;
      --count;
    }
    if (count > 0) {
      pending->iov_base = static_cast<uint8_t*>(pending->iov_base) + left;
      pending->iov_len -= left;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Mapping>> Mapping::Map(const File& file) {
  if (file.size() == 0) return std::shared_ptr<Mapping>(new Mapping({}));
  void* address = ::mmap(nullptr, file.size(), PROT_READ | PROT_WRITE, MAP_PRIVATE,
                         file.fd(), 0);
  if (address == MAP_FAILED) {
    return MakeIoError(errno, absl::StrCat("cannot map ", QuoteForMessage(file.path())));
  }
  // Touching a mapped page past the end of a file raises SIGBUS. A file that
  // already shrank is refused here; one that shrinks later, while its tensors
  // are in use, cannot be caught without a signal handler (docs/format.md).
  struct stat st;
  if (::fstat(file.fd(), &st) != 0) {
    const int error = errno;
    ::munmap(address, file.size());
    return MakeIoError(error, absl::StrCat("cannot stat ", QuoteForMessage(file.path())));
  }
  if (static_cast<uint64_t>(st.st_size) < file.size()) {
    ::munmap(address, file.size());
    return FileTruncatedError(file.path(), static_cast<uint64_t>(st.st_size), file.size());
  }
  return std::shared_ptr<Mapping>(
      new Mapping(absl::Span<uint8_t>(static_cast<uint8_t*>(address), file.size())));
}

Mapping::~Mapping() {
  if (!bytes_.empty()) ::munmap(bytes_.data(), bytes_.size());
}

void ScatteredReadAhead::WillRead(uint64_t offset, uint64_t length) {
  if (offset >= mapping_.size() || length == 0) return;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t end = std::min<uint64_t>(mapping_.size(), offset + length);
  uint8_t* const base = const_cast<uint8_t*>(mapping_.data());  // the calls below only advise
  for (uint64_t at = offset / page * page; at < end;) {
    unsigned char cached[64];
    const uint64_t pages = std::min<uint64_t>(sizeof cached, (end - at + page - 1) / page);
    const uint64_t span = std::min<uint64_t>(pages * page, mapping_.size() - at);
    if (::mincore(base + at, static_cast<size_t>(span), cached) != 0) std::fill(cached, cached + pages, 0);
    for (uint64_t i = 0; i < pages; ++i, at += page) {
      if ((cached[i] & 1u) != 0) continue;
      const uint64_t stop = std::min<uint64_t>(at + page, mapping_.size());
      ::madvise(base + at, static_cast<size_t>(stop - at), MADV_WILLNEED);
      if (!fetched_.empty() && fetched_.back().second == at) {
        fetched_.back().second = stop;
      } else {
        fetched_.emplace_back(at, stop);
      }
    }
  }
}

ScatteredReadAhead::~ScatteredReadAhead() {
  uint8_t* const base = const_cast<uint8_t*>(mapping_.data());
  for (const auto& [begin, end] : fetched_) {
    // Mapped pages are not evicted: unmapped from these page tables first
    // (the mapping reads them back from the file if touched again).
    ::madvise(base + begin, static_cast<size_t>(end - begin), MADV_DONTNEED);
    ::posix_fadvise(file_.fd(), static_cast<off_t>(begin), static_cast<off_t>(end - begin), POSIX_FADV_DONTNEED);
  }
}

}  // namespace safetensors
