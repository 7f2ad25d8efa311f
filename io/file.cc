#include "io/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

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

absl::StatusOr<std::shared_ptr<File>> File::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return MakeIoError(errno, absl::StrCat("cannot open ", QuoteForMessage(path)));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int error = errno;
    ::close(fd);
    return MakeIoError(error, absl::StrCat("cannot stat ", QuoteForMessage(path)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return MakeIoError(EINVAL, absl::StrCat(QuoteForMessage(path), " is not a regular file"));
  }
  return std::shared_ptr<File>(new File(fd, static_cast<uint64_t>(st.st_size), path));
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
    if (n == 0) {
      return MakeIoError(EIO, absl::StrCat(QuoteForMessage(path_), " ended at byte ",
                                           offset + done, "; it shrank while open"));
    }
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
  return std::shared_ptr<Mapping>(
      new Mapping(absl::Span<uint8_t>(static_cast<uint8_t*>(address), file.size())));
}

Mapping::~Mapping() {
  if (!bytes_.empty()) ::munmap(bytes_.data(), bytes_.size());
}

}  // namespace safetensors
