#include "io/parallel_read.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "parser/error.h"

namespace safetensors {
namespace {

// Below this, one thread reads as fast as several: the threads' start-up is
// not worth it.
constexpr uint64_t kParallelReadThreshold = uint64_t{64} << 20;

}  // namespace

void ReadPlan::Add(uint64_t offset, absl::Span<uint8_t> out, absl::string_view label) {
  bytes_ += out.size();
  bool first_piece = true;
  while (!out.empty()) {
    Read* last = reads_.empty() ? nullptr : &reads_.back();
    // Joins the previous read when it ends where this starts and has room.
    if (last != nullptr && last->offset + last->bytes == offset &&
        last->bytes < max_read_bytes_ && last->buffers.size() < max_buffers_) {
      const uint64_t take = std::min<uint64_t>(out.size(), max_read_bytes_ - last->bytes);
      last->buffers.push_back(out.first(static_cast<size_t>(take)));
      last->bytes += take;
      if (first_piece) ++last->labels;
      offset += take;
      out.remove_prefix(static_cast<size_t>(take));
      first_piece = false;
      continue;
    }
    const uint64_t take = std::min<uint64_t>(out.size(), max_read_bytes_);
    reads_.push_back(Read{offset, take, {out.first(static_cast<size_t>(take))}, label, 1});
    offset += take;
    out.remove_prefix(static_cast<size_t>(take));
    first_piece = false;
  }
}

int ThreadsForRead(int requested, uint64_t bytes) {
  if (requested > 0) return requested;
  if (bytes < kParallelReadThreshold) return 1;
  return static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
}

absl::Status ReadInParallel(const File& file, const ReadPlan& plan, int threads) {
  const std::vector<ReadPlan::Read>& reads = plan.reads();
  std::atomic<size_t> next{0};
  std::mutex mutex;
  absl::Status first_error;
  size_t first_error_read = reads.size();
  auto worker = [&] {
    for (size_t i = next++; i < reads.size(); i = next++) {
      absl::Status status = file.ReadVAt(reads[i].offset, reads[i].buffers);
      if (!status.ok()) {
        std::lock_guard<std::mutex> lock(mutex);
        if (i < first_error_read) {  // the earliest read that failed
          first_error_read = i;
          first_error = status;
        }
        next = reads.size();
      }
    }
  };
  std::vector<std::thread> pool;
  const size_t helpers =
      std::min<size_t>(static_cast<size_t>(std::max(threads, 1)) - 1, reads.size());
  for (size_t i = 0; i < helpers; ++i) {
    try {
      pool.emplace_back(worker);
    } catch (const std::system_error&) {
      break;  // fewer threads, same work
    }
  }
  worker();
  for (std::thread& thread : pool) thread.join();
  if (first_error.ok()) return first_error;
  const ReadPlan::Read& failed = reads[first_error_read];
  if (failed.first_label.empty()) return first_error;
  return AddContext(first_error,
                    absl::StrCat("reading tensor ", QuoteForMessage(failed.first_label),
                                 failed.labels > 1
                                     ? absl::StrCat(" and the ", failed.labels - 1,
                                                    " after it in the same read")
                                     : std::string()));
}

}  // namespace safetensors
