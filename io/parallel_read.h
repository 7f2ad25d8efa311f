// Filling many buffers from one file with a plan of large positioned reads
// spread over a few threads: the pread backend's bulk read. No thread
// outlives the call.
//
//   ReadPlan plan;
//   for (each tensor, in file order) plan.Add(file_offset, tensor_bytes, name);
//   absl::Status s = ReadInParallel(file, plan, ThreadsForRead(0, plan.bytes()));
//
// Reads are coalesced: a run of buffers whose file ranges follow each other
// (as a safetensors file's tensors do) becomes one preadv of up to
// `max_read_bytes` into all of them, so 20,000 small tensors cost a few
// hundred system calls, not 20,000; a buffer larger than that is split into
// reads of that size, so one large tensor spreads over several threads.
#ifndef SAFETENSORS_IO_PARALLEL_READ_H_
#define SAFETENSORS_IO_PARALLEL_READ_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "io/file.h"

namespace safetensors {

// The default largest read: large enough that the device streams, small
// enough that a few reads keep every thread busy.
inline constexpr uint64_t kReadChunkBytes = uint64_t{16} << 20;

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
  };

  // `max_read_bytes` > 0; `max_buffers` >= 1 (a preadv takes at most IOV_MAX).
  explicit ReadPlan(uint64_t max_read_bytes = kReadChunkBytes, size_t max_buffers = 512)
      : max_read_bytes_(max_read_bytes), max_buffers_(max_buffers) {}

  // Fills `out` from file offset `offset`; `label` (a tensor name, which must
  // outlive the plan) names it in errors. Empty buffers need no read.
  void Add(uint64_t offset, absl::Span<uint8_t> out, absl::string_view label = {});

  const std::vector<Read>& reads() const { return reads_; }
  uint64_t bytes() const { return bytes_; }

 private:
  uint64_t max_read_bytes_;
  size_t max_buffers_;
  std::vector<Read> reads_;
  uint64_t bytes_ = 0;
};

// The threads for reading `bytes` in all: `requested` if positive, else one
// per core (at most 4) from 64 MiB on, else 1.
int ThreadsForRead(int requested, uint64_t bytes);

// Runs every read of `plan` on up to `threads` threads (the caller's
// included). After the first failure no new read starts; returns that
// failure, naming the file, the byte offset and the tensor.
// Errors: kIoError (from File::ReadVAt).
absl::Status ReadInParallel(const File& file, const ReadPlan& plan, int threads);

}  // namespace safetensors

#endif  // SAFETENSORS_IO_PARALLEL_READ_H_
