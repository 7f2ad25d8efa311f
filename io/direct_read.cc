#include "io/direct_read.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"
#include "parser/error.h"

namespace safetensors {
namespace {

std::string ProcPath(int fd) { return absl::StrCat("/proc/self/fd/", fd); }

// Whether CachedPages tells this process about the file's page cache (see
// there); root is taken to have CAP_FOWNER.
bool KernelReportsCache(int fd, const struct stat& st) {
  if (st.st_uid == ::geteuid() || ::geteuid() == 0) return true;
  return ::faccessat(AT_FDCWD, ProcPath(fd).c_str(), W_OK, AT_EACCESS) == 0;
}

uint64_t PageSize() { return static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)); }

}  // namespace

std::vector<unsigned char> CachedPages(const File& file) {
  const uint64_t size = file.size(), page = PageSize();
  if (size == 0 || size > SIZE_MAX) return {};
  void* mapping = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_SHARED, file.fd(), 0);
  if (mapping == MAP_FAILED) return {};
  std::vector<unsigned char> cached(static_cast<size_t>((size + page - 1) / page));
  const bool ok = ::mincore(mapping, static_cast<size_t>(size), cached.data()) == 0;
  ::munmap(mapping, static_cast<size_t>(size));
  if (!ok) return {};
  return cached;
}

std::unique_ptr<DirectReads> DirectReads::Open(const File& file, DirectIo mode) {
  if (mode == DirectIo::kNever || file.size() == 0 || file.size() > SIZE_MAX) return nullptr;
  struct stat st;
  if (::fstat(file.fd(), &st) != 0) return nullptr;
  // Through /proc, not the name: the same inode even if the name now points
  // elsewhere, in an open file description of its own (O_DIRECT is a flag of
  // the description, so setting it on a dup would change the buffered one).
  const int fd = ::open(ProcPath(file.fd()).c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat direct_st;
  if (::fstat(fd, &direct_st) != 0 || direct_st.st_dev != st.st_dev ||
      direct_st.st_ino != st.st_ino) {
    ::close(fd);
    return nullptr;
  }
  absl::Span<uint8_t> mapping;
  if (mode == DirectIo::kAuto) {
    void* address = KernelReportsCache(file.fd(), st)
                        ? ::mmap(nullptr, static_cast<size_t>(file.size()), PROT_READ,
                                 MAP_SHARED, file.fd(), 0)
                        : MAP_FAILED;
    if (address == MAP_FAILED) {
      ::close(fd);
      return nullptr;
    }
    mapping = absl::Span<uint8_t>(static_cast<uint8_t*>(address), file.size());
  }
  std::unique_ptr<DirectReads> direct(new DirectReads(file.path(), file.size(), fd, mode, mapping));
  if (mode == DirectIo::kAuto) {
    const Sampled sampled = direct->Sample(0, file.size(), 64);
    if (sampled.cached == sampled.pages) return nullptr;  // nothing to gain
  }
  return direct;
}

DirectReads::~DirectReads() {
  ::close(fd_);
  if (!mapping_.empty()) ::munmap(mapping_.data(), mapping_.size());
}

DirectReads::Sampled DirectReads::Sample(uint64_t offset, uint64_t bytes,
                                         uint64_t samples) const {
  const uint64_t page = PageSize();
  const uint64_t end = std::min<uint64_t>(offset + bytes, mapping_.size());
  Sampled sampled;
  if (offset >= end) return sampled;
  const uint64_t first = offset / page, pages = (end - 1) / page + 1 - first;
  sampled.pages = std::min(samples, pages);
  for (uint64_t i = 0; i < sampled.pages; ++i) {
    // The middle page of the i-th of sampled.pages equal parts.
    const uint64_t at = (first + (2 * i + 1) * pages / (2 * sampled.pages)) * page;
    unsigned char in_cache = 0;
    if (::mincore(mapping_.data() + at, 1, &in_cache) == 0 && (in_cache & 1u) != 0) {
      ++sampled.cached;
    }
  }
  return sampled;
}

bool DirectReads::Wants(uint64_t offset, uint64_t bytes) const {
  if (refused_ || bytes == 0) return false;
  if (mode_ == DirectIo::kAlways) return true;
  const Sampled sampled = Sample(offset, bytes, 4);
  return 2 * sampled.cached < sampled.pages;
}

absl::StatusOr<bool> DirectReads::ReadAt(uint64_t offset, absl::Span<uint8_t> out,
                                         uint64_t needed) const {
  if (refused_) return false;
  uint64_t done = 0;
  while (done < needed) {
    const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done,
                              static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL && done == 0) {
        refused_ = true;
        return false;
      }
      return MakeIoError(errno, absl::StrCat("cannot read ", QuoteForMessage(path_),
                                             " at byte ", offset + done, " (direct)"));
    }
    done += static_cast<uint64_t>(n);
    // A direct read comes back short only at the end of the file (in whole
    // blocks before it), so a short read that leaves bytes needed means the
    // file ended there.
    if (n == 0 || (done < needed && done % kDirectReadAlignment != 0)) {
      return FileTruncatedError(path_, offset + done, size_);
    }
  }
  return true;
}

}  // namespace safetensors
