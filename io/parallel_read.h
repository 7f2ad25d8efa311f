// Filling many buffers from one file, or from each of several, with plans of
// large positioned reads spread over a few threads: the pread backend's bulk
// read, and load_model's read straight into a model. No thread outlives the
// call.
//
//   ReadPlan plan;
//   for (each tensor, in file order) plan.Add(file_offset, tensor_bytes, name);
//   ReadProgressTracker progress(callback, plan.bytes(), plan.items());
//   absl::Status s = ReadInParallel(file, plan, ThreadsForRead(0, plan.bytes()), &progress);
//
// Reads are coalesced: a run of buffers whose file ranges follow each other
// (as a safetensors file's tensors do) becomes one preadv of up to
// `max_read_bytes` into all of them, so 20,000 small tensors cost a few
// hundred system calls, not 20,000; a buffer larger than that is split into
// reads of that size, so one large tensor spreads over several threads.
// Reads into windows (AddInWindow) may bypass the page cache (direct_read.h).
#ifndef SAFETENSORS_IO_PARALLEL_READ_H_
#define SAFETENSORS_IO_PARALLEL_READ_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "io/direct_read.h"
#include "io/file.h"

namespace safetensors {

// The default largest read. Cold, 2 MiB reads taken in file order by a few
// threads make one sequential front that the kernel's readahead runs ahead
// of: a 1 GiB load_model took 0.31 s (median of 8, interleaved) with 2 MiB
// reads, 0.36-0.40 s with 0.5-1 MiB and 0.51 s with 16 MiB, which the
// readahead does not follow. Warm, the size made no difference from 1 MiB up
// (tools/bench/load_bench).
inline constexpr uint64_t kReadChunkBytes = uint64_t{2} << 20;

class ReadPlan {
 public:
  // One positioned read: the file range [offset, offset + bytes) into
  // `buffers`, in order.
  struct Read {
    uint64_t offset;
    uint64_t bytes;
    std::vector<absl::Span<uint8_t>> buffers;
    absl::string_view first_label;  // of the first buffer, for messages
    size_t labels = 0;              // how many buffers' labels it covers
    // The Add calls (items) it serves pieces of: first_item, first_item + 1,
    // ..., last_item (consecutive, as reads follow the calls' order).
    size_t first_item = 0;
    size_t last_item = 0;
    // Set for a read of AddInWindow's: the same read as a direct one, of the
    // file range [direct_offset, direct_offset + direct.size()) into
    // `direct` (every bound a multiple of kDirectReadAlignment), which
    // covers the read's range and holds its one buffer at the matching place.
    uint64_t direct_offset = 0;
    absl::Span<uint8_t> direct;
  };

  // `max_read_bytes` > 0; `max_buffers` >= 1 (a preadv takes at most IOV_MAX).
  explicit ReadPlan(uint64_t max_read_bytes = kReadChunkBytes, size_t max_buffers = 512)
      : max_read_bytes_(max_read_bytes), max_buffers_(max_buffers) {}

  // Fills `out` from file offset `offset`; `label` (a tensor name, which must
  // outlive the plan) names it in errors. Empty buffers need no read.
  void Add(uint64_t offset, absl::Span<uint8_t> out, absl::string_view label = {});

  // As Add, for `out` lying inside `window`: memory the load may overwrite
  // whole, whose first byte is the place of file offset
  // offset - (out.data() - window.data()). When that offset, window.data(),
  // window.size() and max_read_bytes are multiples of kDirectReadAlignment,
  // `out` gets reads of its own, each with a direct form (reads that
  // bypass the page cache write a whole number of blocks, so they spill
  // into the window around `out`); otherwise this is Add(offset, out, label).
  void AddInWindow(uint64_t offset, absl::Span<uint8_t> out, absl::Span<uint8_t> window,
                   absl::string_view label = {});

  const std::vector<Read>& reads() const { return reads_; }
  uint64_t bytes() const { return bytes_; }
  // How many Add calls, and how many reads serve each (0 for an empty one).
  size_t items() const { return pieces_.size(); }
  const std::vector<uint32_t>& pieces() const { return pieces_; }

 private:
  uint64_t max_read_bytes_;
  size_t max_buffers_;
  std::vector<Read> reads_;
  std::vector<uint32_t> pieces_;  // by item
  uint64_t bytes_ = 0;
};

// How far a load is: bytes and tensors done so far, of the totals.
struct ReadProgress {
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  uint64_t tensors_done = 0;
  uint64_t tensors_total = 0;
};

// Counts a load's progress across reads, files and threads and reports each
// step to `callback` (if set), one call at a time and in order, so reports
// never go backwards and the last one says done == total. The callback runs
// on whichever loading thread finished the step: it should be quick, and
// must not call back into the load.
class ReadProgressTracker {
 public:
  ReadProgressTracker(std::function<void(const ReadProgress&)> callback, uint64_t bytes_total,
                      uint64_t tensors_total)
      : callback_(std::move(callback)) {
    progress_.bytes_total = bytes_total;
    progress_.tensors_total = tensors_total;
  }
  ReadProgressTracker(const ReadProgressTracker&) = delete;
  ReadProgressTracker& operator=(const ReadProgressTracker&) = delete;

  // `bytes` more read and `tensors` more complete. Thread-safe.
  void Add(uint64_t bytes, uint64_t tensors) {
    std::lock_guard<std::mutex> lock(mutex_);
    progress_.bytes_done += bytes;
    progress_.tensors_done += tensors;
    if (callback_) callback_(progress_);
  }
  ReadProgress Current() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return progress_;
  }

 private:
  const std::function<void(const ReadProgress&)> callback_;
  mutable std::mutex mutex_;
  ReadProgress progress_;
};

// The threads for reading `bytes` in all: `requested` if positive, else 4
// from 64 MiB on (reads in flight, not cores, decide a cold read), else 1.
int ThreadsForRead(int requested, uint64_t bytes);

// One file's plan, for reading several files at once. `context`, if not
// empty, prefixes the file's errors (e.g. the shard's name).
struct FileReadPlan {
  const File* file;
  const ReadPlan* plan;
  absl::string_view context = {};
  // If set, the reads with a direct form that it Wants are read directly.
  const DirectReads* direct = nullptr;
};

// Runs every read of every plan (in the given order, the files' reads
// interleaved by no more than the threads' timing) on up to `threads`
// threads, the caller's included. After the first failure no new read
// starts; returns the failure of the earliest failed read in that order,
// naming the file, the byte offset and the tensor. `progress`, if not null,
// gets each completed read's bytes, and each item when its last piece is
// read (an empty item at the start).
// Errors: kIoError (from File::ReadVAt).
absl::Status ReadInParallel(absl::Span<const FileReadPlan> plans, int threads,
                            ReadProgressTracker* progress = nullptr);
inline absl::Status ReadInParallel(const File& file, const ReadPlan& plan, int threads,
                                   ReadProgressTracker* progress = nullptr) {
  const FileReadPlan one[] = {{&file, &plan}};
  return ReadInParallel(one, threads, progress);
}

}  // namespace safetensors

#endif  // SAFETENSORS_IO_PARALLEL_READ_H_
