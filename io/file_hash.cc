#include "io/file_hash.h"

#include <fcntl.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "openssl/evp.h"
#include "parser/error.h"

namespace safetensors {
namespace {

// 4 MiB blocks, three in flight: large enough that a direct read keeps the
// device busy and a syscall's cost vanishes, small enough that hashing the
// first block starts at once.
constexpr uint64_t kBlockBytes = uint64_t{4} << 20;
constexpr size_t kBlocksInFlight = 3;

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};
using AlignedBlock = std::unique_ptr<uint8_t, FreeDeleter>;

// At least `bytes`, in whole units of direct reads (a tail read fills them).
absl::StatusOr<AlignedBlock> NewBlock(uint64_t bytes) {
  const uint64_t whole =
      (bytes + kDirectReadAlignment - 1) / kDirectReadAlignment * kDirectReadAlignment;
  AlignedBlock block(static_cast<uint8_t*>(
      std::aligned_alloc(kDirectReadAlignment, static_cast<size_t>(whole))));
  if (block == nullptr) return MakeError(ErrorCode::kOutOfMemory, "cannot allocate a hash block");
  return block;
}

struct MdContextDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};

// libcrypto's incremental digest, with its failures as statuses.
class Hasher {
 public:
  static absl::StatusOr<Hasher> Start(Digest digest, uint64_t size) {
    Hasher hasher;
    hasher.context_.reset(EVP_MD_CTX_new());
    const EVP_MD* md = digest == Digest::kSha256 ? EVP_sha256() : EVP_sha1();
    if (hasher.context_ == nullptr || EVP_DigestInit_ex(hasher.context_.get(), md, nullptr) != 1) {
      return MakeError(ErrorCode::kInternal, "libcrypto cannot start a digest");
    }
    if (digest == Digest::kGitBlobId) {
      // git's object header; the NUL is part of what is hashed.
      const std::string header = absl::StrCat("blob ", size, std::string(1, '\0'));
      if (absl::Status s = hasher.Update(header.data(), header.size()); !s.ok()) return s;
    }
    return hasher;
  }

  absl::Status Update(const void* bytes, size_t size) {
    if (EVP_DigestUpdate(context_.get(), bytes, size) != 1) {
      return MakeError(ErrorCode::kInternal, "libcrypto cannot update a digest");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> FinishHex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(context_.get(), digest, &length) != 1) {
      return MakeError(ErrorCode::kInternal, "libcrypto cannot finish a digest");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * length);
    for (unsigned int i = 0; i < length; ++i) {
      hex.push_back(kHex[digest[i] >> 4]);
      hex.push_back(kHex[digest[i] & 0xF]);
    }
    return hex;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, MdContextDeleter> context_;
};

// Block `index` of the file into `block`: directly when `direct` wants the
// range (the block and its offset are aligned; a tail block reads whole
// 4 KiB units past the end), else through the page cache.
absl::Status ReadBlock(const File& file, const DirectReads* direct, uint64_t offset,
                       uint64_t length, uint8_t* block) {
  if (direct != nullptr && direct->Wants(offset, length)) {
    const uint64_t whole =
        (length + kDirectReadAlignment - 1) / kDirectReadAlignment * kDirectReadAlignment;
    absl::StatusOr<bool> read =
        direct->ReadAt(offset, absl::MakeSpan(block, static_cast<size_t>(whole)), length);
    if (!read.ok()) return read.status();
    if (*read) return absl::OkStatus();
    // The kernel refused the direct read: read it buffered.
  }
  return file.ReadAt(offset, absl::MakeSpan(block, static_cast<size_t>(length)));
}

// The file's blocks, read ahead on a thread of their own into a ring of
// kBlocksInFlight buffers that the hashing thread empties in order.
class BlockPipeline {
 public:
  BlockPipeline(const File& file, const DirectReads* direct, std::vector<AlignedBlock> blocks)
      : file_(file), direct_(direct), blocks_(std::move(blocks)),
        count_((file.size() + kBlockBytes - 1) / kBlockBytes), reader_([this] { ReadAll(); }) {}

  ~BlockPipeline() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopped_ = true;
    }
    changed_.notify_all();
    reader_.join();
  }

  uint64_t count() const { return count_; }

  // Waits for block `index` (taken in order); its bytes, valid until
  // Release(index).
  absl::StatusOr<absl::Span<const uint8_t>> Take(uint64_t index) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return read_ > index || !error_.ok(); });
    if (read_ <= index) return error_;
    return absl::Span<const uint8_t>(blocks_[index % blocks_.size()].get(),
                                     static_cast<size_t>(Length(index)));
  }

  void Release(uint64_t index) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      released_ = index + 1;
    }
    changed_.notify_all();
  }

 private:
  uint64_t Length(uint64_t index) const {
    return std::min(kBlockBytes, file_.size() - index * kBlockBytes);
  }

  void ReadAll() {
    for (uint64_t index = 0; index < count_; ++index) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stopped_ || index - released_ < blocks_.size(); });
        if (stopped_) return;
      }
      absl::Status status = ReadBlock(file_, direct_, index * kBlockBytes, Length(index),
                                      blocks_[index % blocks_.size()].get());
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (status.ok()) {
          read_ = index + 1;
        } else {
          error_ = std::move(status);
        }
      }
      changed_.notify_all();
      if (!status.ok()) return;
    }
  }

  const File& file_;
  const DirectReads* const direct_;
  const std::vector<AlignedBlock> blocks_;
  const uint64_t count_;
  std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t read_ = 0;      // blocks [0, read_) are filled
  uint64_t released_ = 0;  // blocks [0, released_) are hashed
  absl::Status error_;
  bool stopped_ = false;
  std::thread reader_;  // last: starts once the members above exist
};

}  // namespace

absl::string_view DigestName(Digest digest) {
  return digest == Digest::kSha256 ? "sha256" : "git-sha1";
}

size_t DigestHexLength(Digest digest) { return digest == Digest::kSha256 ? 64 : 40; }

absl::StatusOr<std::string> HashFile(const File& file, Digest digest, const HashOptions& options) {
  absl::StatusOr<Hasher> hasher = Hasher::Start(digest, file.size());
  if (!hasher.ok()) return hasher.status();
  const std::unique_ptr<DirectReads> direct = DirectReads::Open(file, options.direct_io);
  // Buffered reads of the rest: ask the kernel for its largest readahead.
  ::posix_fadvise(file.fd(), 0, 0, POSIX_FADV_SEQUENTIAL);
  if (file.size() <= kBlockBytes) {
    if (file.size() > 0) {
      absl::StatusOr<AlignedBlock> block = NewBlock(file.size());
      if (!block.ok()) return block.status();
      if (absl::Status s = ReadBlock(file, direct.get(), 0, file.size(), block->get()); !s.ok()) {
        return s;
      }
      if (absl::Status s = hasher->Update(block->get(), static_cast<size_t>(file.size()));
          !s.ok()) {
        return s;
      }
      if (options.on_bytes) options.on_bytes(file.size());
    }
    return hasher->FinishHex();
  }
  std::vector<AlignedBlock> blocks;
  for (size_t i = 0; i < kBlocksInFlight; ++i) {
    absl::StatusOr<AlignedBlock> block = NewBlock(kBlockBytes);
    if (!block.ok()) return block.status();
    blocks.push_back(*std::move(block));
  }
  BlockPipeline pipeline(file, direct.get(), std::move(blocks));
  for (uint64_t index = 0; index < pipeline.count(); ++index) {
    absl::StatusOr<absl::Span<const uint8_t>> bytes = pipeline.Take(index);
    if (!bytes.ok()) return bytes.status();
    if (absl::Status s = hasher->Update(bytes->data(), bytes->size()); !s.ok()) return s;
    pipeline.Release(index);
    if (options.on_bytes) options.on_bytes(bytes->size());
  }
  return hasher->FinishHex();
}

}  // namespace safetensors
