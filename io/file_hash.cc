#include "io/file_hash.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "io/direct_read.h"
#include "io/sigbus_guard.h"
#include "openssl/evp.h"
#include "parser/error.h"

namespace safetensors {
namespace {

// Reads of 64 KiB into one buffer that stays in the CPU's cache, so the
// kernel's copy from the page cache and the hash that follows both work from
// cache. Measured on tools/bench's machine (2 cores), warm: a 1 GiB file
// took 1.0 s with 64 KiB reads (0.2 s of it in the kernel) against 1.6 s with
// 128 KiB to 1 MiB reads (0.75 s in the kernel); four 0.7 GB files on two
// threads 1.31 s against 1.6 s with 16 MiB blocks read by threads of their
// own (1.0 s in the kernel).
constexpr uint64_t kChunkBytes = uint64_t{64} << 10;
// The page cache is asked to fill this far ahead of the reads, in steps of
// kPrefetchStep: the kernel then keeps a cold device busy with large reads
// of its own while this thread hashes, without buffers of ours.
constexpr uint64_t kPrefetchAhead = uint64_t{64} << 20;
constexpr uint64_t kPrefetchStep = uint64_t{16} << 20;
// Windows of a mapping faulted in at once (reads in flight, cold).
constexpr int kPopulateThreads = 2;
// A file not in the page cache is read around it (O_DIRECT) in pieces of
// kDirectPiece bytes into a ring of kDirectSlots buffers (128 MiB per file
// being hashed, on huge pages) by the kDirectReaders threads of a
// HashReadPool, which lends buffers to at most kMaxRings files at once
// (512 MiB). Measured on tools/bench's machine, interleaved, verifying the
// 4-shard (b) checkpoint cold (four rounds each): per-file rings of 16 slots
// on 4 KiB pages with 8 readers each 1.54-1.71 s; one shared pool, 32 slots,
// 4 KiB pages 1.47-1.58 s, 64 slots 1.31-1.45 s; on huge pages, 32 slots
// 0.97-1.05 s, 64 slots 1.08-1.26 s. A direct read pins its buffer's pages,
// and huge pages make that cheap. With the hash skipped, the window a ring
// may hold ahead of the hash showed on its own: (a) read through 16 slots in
// 0.66-0.76 s, through 64 in 0.59-0.63 s. 8 readers against 16: 1.23-1.49 s
// against 1.39-1.89 s (64 slots); 4 MiB pieces against 8 and 16 MiB, 1.70 s
// against 1.82 and 1.86 s.
constexpr uint64_t kDirectPiece = uint64_t{4} << 20;
constexpr int kDirectReaders = 8;
constexpr uint64_t kDirectSlots = 32;
constexpr int kMaxRings = 4;
constexpr size_t kHugePage = size_t{2} << 20;

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
    return absl::BytesToHexString(
        absl::string_view(reinterpret_cast<const char*>(digest), length));
  }

 private:
  std::unique_ptr<EVP_MD_CTX, MdContextDeleter> context_;
};

// A read-only shared mapping of a whole file, unmapped when it goes.
class MappedFile {
 public:
  static std::optional<MappedFile> Map(const File& file) {
    void* address = ::mmap(nullptr, static_cast<size_t>(file.size()), PROT_READ, MAP_SHARED,
                           file.fd(), 0);
    if (address == MAP_FAILED) return std::nullopt;
    ::madvise(address, static_cast<size_t>(file.size()), MADV_SEQUENTIAL);
    return MappedFile(static_cast<const uint8_t*>(address), static_cast<size_t>(file.size()));
  }
  MappedFile(MappedFile&& other) noexcept : bytes_(other.bytes_) { other.bytes_ = {}; }
  MappedFile& operator=(MappedFile&&) = delete;
  ~MappedFile() {
    if (!bytes_.empty()) ::munmap(const_cast<uint8_t*>(bytes_.data()), bytes_.size());
  }
  absl::Span<const uint8_t> bytes() const { return bytes_; }

 private:
  MappedFile(const uint8_t* data, size_t size) : bytes_(data, size) {}
  absl::Span<const uint8_t> bytes_;
};

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14; older kernels answer EINVAL
#endif

// Threads that fault a mapping's pages in, window by window, up to
// kPrefetchAhead beyond what the hasher has reached: several reads in flight
// keep a cold device busy, and the hasher then finds every page mapped.
// MADV_POPULATE_READ reports a page past the end of a shrunk file as an
// error instead of SIGBUS; where the kernel lacks it, the page cache is
// asked to read ahead instead (POSIX_FADV_WILLNEED).
class Populator {
 public:
  Populator(int fd, absl::Span<const uint8_t> mapping, int threads)
      : fd_(fd), mapping_(mapping) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~Populator() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopped_ = true;
    }
    changed_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  // The hasher has reached `offset`.
  void Reached(uint64_t offset) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      reached_ = offset;
    }
    changed_.notify_all();
  }

 private:
  void Run() {
    while (true) {
      uint64_t begin;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] {
          return stopped_ || next_ >= mapping_.size() || next_ < reached_ + kPrefetchAhead;
        });
        if (stopped_ || next_ >= mapping_.size()) return;
        begin = next_;
        next_ += kPrefetchStep;
      }
      const size_t length = static_cast<size_t>(std::min<uint64_t>(kPrefetchStep, mapping_.size() - begin));
      void* address = const_cast<uint8_t*>(mapping_.data() + begin);
      if (::madvise(address, length, MADV_POPULATE_READ) != 0 && errno == EINVAL) {
        ::posix_fadvise(fd_, static_cast<off_t>(begin), static_cast<off_t>(length),
                        POSIX_FADV_WILLNEED);
      }
    }
  }

  const int fd_;
  const absl::Span<const uint8_t> mapping_;
  std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t next_ = 0;     // the next window to populate
  uint64_t reached_ = 0;  // where the hasher is
  bool stopped_ = false;
  std::vector<std::thread> threads_;  // last: start once the members above exist
};

class ReadRing;

}  // namespace

// What a HashReadPool's threads share with the rings they fill; guarded by
// `mutex`.
struct HashReadPool::Shared {
  ~Shared();

  // A ring's buffers (kDirectSlots pieces, aligned for direct reads): those
  // of a ring that has gone, else new ones; null when they cannot be
  // allocated. Waits while kMaxRings files hold buffers.
  uint8_t* TakeBuffers();
  void Add(ReadRing* ring);
  // Waits until no read into the ring's buffers is in flight, and keeps
  // them for the next ring.
  void Remove(ReadRing* ring, uint8_t* buffers);
  ReadRing* Choose();
  void Run();

  std::mutex mutex;
  std::condition_variable changed;
  std::vector<ReadRing*> rings;  // of the files being hashed, in order of start
  bool stopped = false;
  std::vector<std::thread> threads;
  // Buffers of rings that have gone, kept for the next: new memory is
  // faulted in page by page on first use.
  std::vector<uint8_t*> spare_buffers;
  int buffers_lent = 0;  // to rings now, at most kMaxRings
};

namespace {

// The pieces of a file read in order of offset into a ring of buffers by a
// HashReadPool's threads, each piece by a direct read where DirectReads wants
// one (it is not cached) and through the page cache otherwise, while the
// caller hashes the pieces in order: the device always has reads queued, and
// a cold page is never filled in the page cache only to be copied out.
// Its state is guarded by the pool's mutex.
class ReadRing {
 public:
  // Null if the ring's buffers cannot be allocated.
  static std::unique_ptr<ReadRing> Start(const File& file, const DirectReads& direct,
                                         uint64_t bytes_after, HashReadPool::Shared& pool) {
    uint8_t* buffers = pool.TakeBuffers();
    if (buffers == nullptr) return nullptr;
    std::unique_ptr<ReadRing> ring(new ReadRing(file, direct, bytes_after, pool, buffers));
    pool.Add(ring.get());
    return ring;
  }
  // Leaves the pool once no read into its buffers is in flight.
  ~ReadRing() { pool_.Remove(this, buffers_); }

  uint64_t pieces() const { return pieces_; }

  // Waits for piece `index` (the pieces are taken in order, each once, and
  // each released before the next is taken): its bytes, valid until
  // Release(), or the error that reading it met.
  absl::StatusOr<absl::Span<const uint8_t>> Take(uint64_t index) {
    Slot& slot = slots_[index % kDirectSlots];
    std::unique_lock<std::mutex> lock(pool_.mutex);
    pool_.changed.wait(lock, [&] { return slot.filled_with == index + 1; });
    if (!slot.status.ok()) return slot.status;
    return absl::Span<const uint8_t>(SlotBytes(index), PieceLength(index));
  }
  // The caller is done with piece `index`: its slot takes a later one.
  void Release(uint64_t index) {
    {
      std::lock_guard<std::mutex> lock(pool_.mutex);
      released_ = index + 1;
    }
    pool_.changed.notify_all();
  }

  // For the pool's readers, under its mutex: whether a piece can be read
  // now, the work its hashing thread has left (this file's bytes not yet
  // claimed and those after it), and the claim of the next piece.
  bool HasRoom() const { return next_ < pieces_ && next_ < released_ + kDirectSlots; }
  uint64_t WorkLeft() const {
    return file_.size() - std::min(file_.size(), next_ * kDirectPiece) + bytes_after_;
  }
  uint64_t Claim() {
    ++in_flight_;
    return next_++;
  }
  // Without the mutex: reads a claimed piece into its slot.
  absl::Status Read(uint64_t index) const {
    const uint64_t offset = index * kDirectPiece, length = PieceLength(index);
    if (direct_.Wants(offset, length)) {
      // The whole slot: a direct read's length is a multiple of the block,
      // and the last piece's read stops at the end of the file.
      absl::StatusOr<bool> read = direct_.ReadAt(
          offset, absl::Span<uint8_t>(SlotBytes(index), kDirectPiece), length);
      if (!read.ok()) return read.status();
      if (*read) return absl::OkStatus();
    }
    return file_.ReadAt(offset, absl::Span<uint8_t>(SlotBytes(index), length));
  }
  // Under the mutex: the claimed piece `index` is read, or failed.
  void Filled(uint64_t index, absl::Status status) {
    Slot& slot = slots_[index % kDirectSlots];
    slot.status = std::move(status);
    slot.filled_with = index + 1;
    --in_flight_;
  }
  int in_flight() const { return in_flight_; }

 private:
  struct Slot {
    uint64_t filled_with = 0;  // 1 + the index of the piece it holds; 0: none
    absl::Status status;       // of that piece's read
  };

  ReadRing(const File& file, const DirectReads& direct, uint64_t bytes_after,
           HashReadPool::Shared& pool, uint8_t* buffers)
      : file_(file),
        direct_(direct),
        bytes_after_(bytes_after),
        pool_(pool),
        buffers_(buffers),
        pieces_((file.size() + kDirectPiece - 1) / kDirectPiece) {}

  uint8_t* SlotBytes(uint64_t index) const { return buffers_ + (index % kDirectSlots) * kDirectPiece; }
  uint64_t PieceLength(uint64_t index) const {
    return std::min(kDirectPiece, file_.size() - index * kDirectPiece);
  }

  const File& file_;
  const DirectReads& direct_;
  const uint64_t bytes_after_;
  HashReadPool::Shared& pool_;
  uint8_t* const buffers_;  // kDirectSlots pieces, aligned for direct reads
  const uint64_t pieces_;
  Slot slots_[kDirectSlots];
  uint64_t next_ = 0;      // the next piece to read
  uint64_t released_ = 0;  // pieces before this one are hashed
  int in_flight_ = 0;      // claimed, not yet filled
};

}  // namespace

HashReadPool::Shared::~Shared() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopped = true;
  }
  changed.notify_all();
  for (std::thread& t : threads) t.join();
  for (uint8_t* buffers : spare_buffers) std::free(buffers);
}

uint8_t* HashReadPool::Shared::TakeBuffers() {
  std::unique_lock<std::mutex> lock(mutex);
  changed.wait(lock, [&] { return buffers_lent < kMaxRings; });
  uint8_t* buffers = nullptr;
  if (!spare_buffers.empty()) {
    buffers = spare_buffers.back();
    spare_buffers.pop_back();
  } else {
    buffers = static_cast<uint8_t*>(std::aligned_alloc(kHugePage, kDirectSlots * kDirectPiece));
    if (buffers != nullptr) ::madvise(buffers, kDirectSlots * kDirectPiece, MADV_HUGEPAGE);
  }
  if (buffers != nullptr) ++buffers_lent;
  return buffers;
}

void HashReadPool::Shared::Add(ReadRing* ring) {
  std::lock_guard<std::mutex> lock(mutex);
  rings.push_back(ring);
  changed.notify_all();  // readers waiting for room find it here
  const uint64_t wanted = std::min<uint64_t>(kDirectReaders, ring->pieces());
  while (threads.size() < wanted) threads.emplace_back([this] { Run(); });
}

void HashReadPool::Shared::Remove(ReadRing* ring, uint8_t* buffers) {
  std::unique_lock<std::mutex> lock(mutex);
  rings.erase(std::find(rings.begin(), rings.end(), ring));
  changed.wait(lock, [&] { return ring->in_flight() == 0; });
  spare_buffers.push_back(buffers);
  --buffers_lent;
  changed.notify_all();  // a file waiting for buffers may have them
}

// The ring to read for next: of those with room, the one whose thread has
// the most work left, the earliest on a tie; null when none has room. The
// thread that will end last is then kept waiting least, and the others'
// files are read with what the device has to spare.
ReadRing* HashReadPool::Shared::Choose() {
  ReadRing* chosen = nullptr;
  for (ReadRing* ring : rings) {
    if (ring->HasRoom() && (chosen == nullptr || ring->WorkLeft() > chosen->WorkLeft())) {
      chosen = ring;
    }
  }
  return chosen;
}

void HashReadPool::Shared::Run() {
  std::unique_lock<std::mutex> lock(mutex);
  while (true) {
    ReadRing* ring = nullptr;
    changed.wait(lock, [&] { return stopped || (ring = Choose()) != nullptr; });
    if (stopped) return;
    const uint64_t index = ring->Claim();
    lock.unlock();
    absl::Status status = ring->Read(index);
    lock.lock();
    ring->Filled(index, std::move(status));
    changed.notify_all();
  }
}

HashReadPool::HashReadPool() : shared_(new Shared) {}
HashReadPool::~HashReadPool() = default;

absl::string_view DigestName(Digest digest) {
  return digest == Digest::kSha256 ? "sha256" : "git-sha1";
}

size_t DigestHexLength(Digest digest) { return digest == Digest::kSha256 ? 64 : 40; }

absl::StatusOr<std::string> HashFile(const File& file, Digest digest, const HashOptions& options) {
  absl::StatusOr<Hasher> hasher = Hasher::Start(digest, file.size());
  if (!hasher.ok()) return hasher.status();

  const std::unique_ptr<DirectReads> direct = DirectReads::Open(file, options.direct_io);
  std::optional<HashReadPool> own_pool;
  HashReadPool* pool = options.read_pool;
  if (direct != nullptr && pool == nullptr) pool = &own_pool.emplace();
  const std::unique_ptr<ReadRing> ring =
      direct != nullptr ? ReadRing::Start(file, *direct, options.bytes_after, pool->shared())
                        : nullptr;
  if (ring != nullptr) {
    for (uint64_t index = 0; index < ring->pieces(); ++index) {
      absl::StatusOr<absl::Span<const uint8_t>> piece = ring->Take(index);
      if (!piece.ok()) return piece.status();
      if (absl::Status s = hasher->Update(piece->data(), piece->size()); !s.ok()) return s;
      ring->Release(index);
      if (options.on_bytes) options.on_bytes(piece->size());
    }
    return hasher->FinishHex();
  }
  // Ask the kernel for its largest readahead as well.
  ::posix_fadvise(file.fd(), 0, 0, POSIX_FADV_SEQUENTIAL);
  uint64_t prefetched = 0;  // the page cache was asked for [0, prefetched)
  // Keeps the page cache filling kPrefetchAhead beyond `offset`.
  auto prefetch_past = [&](uint64_t offset) {
    while (prefetched < file.size() && prefetched < offset + kPrefetchAhead) {
      const uint64_t step = std::min(kPrefetchStep, file.size() - prefetched);
      ::posix_fadvise(file.fd(), static_cast<off_t>(prefetched), static_cast<off_t>(step),
                      POSIX_FADV_WILLNEED);
      prefetched += step;
    }
  };

  const std::optional<MappedFile> mapped =
      options.read_mapped && file.size() > 0 && InstallSigbusGuard().ok()
          ? MappedFile::Map(file)
          : std::nullopt;
  if (mapped.has_value()) {
    const absl::Span<const uint8_t> all = mapped->bytes();
    Populator populator(file.fd(), all, kPopulateThreads);
    for (uint64_t offset = 0; offset < file.size();) {
      populator.Reached(offset);
      const uint64_t length = std::min(kPrefetchStep, file.size() - offset);
      const absl::Span<const uint8_t> step = all.subspan(static_cast<size_t>(offset),
                                                         static_cast<size_t>(length));
      absl::Status updated;
      // A SIGBUS here means the file shrank under the mapping.
      if (!RunGuarded(step, [&] { updated = hasher->Update(step.data(), step.size()); })) {
        struct stat st;
        const uint64_t now = ::fstat(file.fd(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
        return FileTruncatedError(file.path(), std::min(now, offset + length), file.size());
      }
      if (!updated.ok()) return updated;
      if (options.on_bytes) options.on_bytes(length);
      offset += length;
    }
    return hasher->FinishHex();
  }

  std::unique_ptr<uint8_t[]> chunk(new (std::nothrow) uint8_t[kChunkBytes]);
  if (chunk == nullptr) return MakeError(ErrorCode::kOutOfMemory, "cannot allocate a hash buffer");
  for (uint64_t offset = 0; offset < file.size();) {
    prefetch_past(offset);
    const uint64_t length = std::min(kChunkBytes, file.size() - offset);
    absl::Span<uint8_t> bytes(chunk.get(), static_cast<size_t>(length));
    if (absl::Status s = file.ReadAt(offset, bytes); !s.ok()) return s;
    if (absl::Status s = hasher->Update(bytes.data(), bytes.size()); !s.ok()) return s;
    if (options.on_bytes) options.on_bytes(length);
    offset += length;
  }
  return hasher->FinishHex();
}

}  // namespace safetensors
