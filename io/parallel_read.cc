#include "io/parallel_read.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

namespace safetensors {
namespace {

// Below this, one thread reads as fast as several: the threads' start-up is
// not worth it.
constexpr uint64_t kParallelReadThreshold = uint64_t{64} << 20;

}  // namespace

void AddReadJobs(uint64_t offset, absl::Span<uint8_t> out, std::vector<ReadJob>& jobs) {
  for (uint64_t done = 0; done < out.size(); done += kReadChunkBytes) {
    const uint64_t length = std::min<uint64_t>(kReadChunkBytes, out.size() - done);
    jobs.push_back({offset + done, out.subspan(done, length)});
  }
}

int ThreadsForRead(int requested, uint64_t bytes) {
  if (requested > 0) return requested;
  if (bytes < kParallelReadThreshold) return 1;
  return static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
}

absl::Status ReadInParallel(const File& file, const std::vector<ReadJob>& jobs, int threads) {
  std::atomic<size_t> next{0};
  std::mutex mutex;
  absl::Status first_error;
  auto worker = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      absl::Status status = file.ReadAt(jobs[i].offset, jobs[i].out);
      if (!status.ok()) {
        std::lock_guard<std::mutex> lock(mutex);
        if (first_error.ok()) first_error = status;
        next = jobs.size();
      }
    }
  };
  std::vector<std::thread> pool;
  const size_t helpers = std::min<size_t>(static_cast<size_t>(std::max(threads, 1)) - 1, jobs.size());
  for (size_t i = 0; i < helpers; ++i) pool.emplace_back(worker);
  worker();
  for (std::thread& thread : pool) thread.join();
  return first_error;
}

}  // namespace safetensors
