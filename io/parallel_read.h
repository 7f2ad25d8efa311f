// Filling many buffers from one file with positioned reads spread over a few
// threads: the pread backend's bulk read. No thread outlives the call.
//
//   std::vector<ReadJob> jobs = {{offset, span}, ...};
//   absl::Status s = ReadInParallel(file, jobs, ThreadsForRead(0, total_bytes));
#ifndef SAFETENSORS_IO_PARALLEL_READ_H_
#define SAFETENSORS_IO_PARALLEL_READ_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "io/file.h"

namespace safetensors {

// Reads of this size or less are one job; larger buffers are split so that
// one large tensor spreads over several threads too.
inline constexpr uint64_t kReadChunkBytes = uint64_t{16} << 20;

struct ReadJob {
  uint64_t offset;          // in the file
  absl::Span<uint8_t> out;  // filled completely, or the read fails
};

// Appends jobs that fill `out` from `offset`, in pieces of kReadChunkBytes.
void AddReadJobs(uint64_t offset, absl::Span<uint8_t> out, std::vector<ReadJob>& jobs);

// The threads for reading `bytes` in all: `requested` if positive, else one
// per core (at most 4) from 64 MiB on, else 1.
int ThreadsForRead(int requested, uint64_t bytes);

// Runs every job on up to `threads` threads (the caller's included). After the
// first failure no new job starts; returns that failure.
// Errors: kIoError (from File::ReadAt).
absl::Status ReadInParallel(const File& file, const std::vector<ReadJob>& jobs, int threads);

}  // namespace safetensors

#endif  // SAFETENSORS_IO_PARALLEL_READ_H_
