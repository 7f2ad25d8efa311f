#include "io/parallel_read.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <system_error>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "parser/error.h"

namespace safetensors {
namespace {

// Below this, one thread reads as fast as several: the threads' start-up is
// not worth it.
constexpr uint64_t kParallelReadThreshold = uint64_t{64} << 20;

// A direct read when the plan's file wants one for `read` and the kernel
// takes it, else a buffered one.
absl::Status ReadOne(const FileReadPlan& plan, const ReadPlan::Read& read) {
  if (plan.direct != nullptr && !read.direct.empty() &&
      plan.direct->Wants(read.offset, read.bytes)) {
    const absl::StatusOr<bool> done =
        plan.direct->ReadAt(read.direct_offset, read.direct,
                            read.offset + read.bytes - read.direct_offset);
    if (!done.ok()) return done.status();
    if (*done) return absl::OkStatus();
  }
  return plan.file->ReadVAt(read.offset, read.buffers);
}

}  // namespace

void ReadPlan::Add(uint64_t offset, absl::Span<uint8_t> out, absl::string_view label) {
  bytes_ += out.size();
  const size_t item = pieces_.size();
  pieces_.push_back(0);
  bool first_piece = true;
  while (!out.empty()) {
    Read* last = reads_.empty() ? nullptr : &reads_.back();
    const bool joins = last != nullptr && last->direct.empty() &&
                       last->offset + last->bytes == offset &&
                       last->bytes < max_read_bytes_ && last->buffers.size() < max_buffers_;
    // Joins the previous read when it ends where this starts and has room.
    const uint64_t room = joins ? max_read_bytes_ - last->bytes : max_read_bytes_;
    const uint64_t take = std::min<uint64_t>(out.size(), room);
    const absl::Span<uint8_t> piece = out.first(static_cast<size_t>(take));
    if (joins) {
      last->buffers.push_back(piece);
      last->bytes += take;
      if (first_piece) ++last->labels;
      last->last_item = item;
    } else {
      reads_.push_back(Read{offset, take, {piece}, label, 1, item, item, 0, {}});
    }
    ++pieces_[item];
    offset += take;
    out.remove_prefix(static_cast<size_t>(take));
    first_piece = false;
  }
}

void ReadPlan::AddInWindow(uint64_t offset, absl::Span<uint8_t> out, absl::Span<uint8_t> window,
                           absl::string_view label) {
  const uint64_t lead = static_cast<uint64_t>(out.data() - window.data());
  const auto aligned = [](uint64_t n) { return n % kDirectReadAlignment == 0; };
  if (out.empty() || out.data() < window.data() || lead > offset ||
      lead + out.size() > window.size() || !aligned(offset - lead) ||
      !aligned(reinterpret_cast<uintptr_t>(window.data())) || !aligned(window.size()) ||
      !aligned(max_read_bytes_)) {
    Add(offset, out, label);
    return;
  }
  bytes_ += out.size();
  const size_t item = pieces_.size();
  pieces_.push_back(0);
  const uint64_t window_offset = offset - lead;
  for (uint64_t at = 0; at < window.size(); at += max_read_bytes_) {
    const uint64_t size = std::min<uint64_t>(max_read_bytes_, window.size() - at);
    // The part of `out` in this piece of the window; none in a piece of
    // spill alone.
    const uint64_t begin = std::max(at, lead);
    const uint64_t end = std::min(at + size, lead + out.size());
    if (begin >= end) continue;
    reads_.push_back(
        Read{window_offset + begin,
             end - begin,
             {window.subspan(static_cast<size_t>(begin), static_cast<size_t>(end - begin))},
             label,
             1,
             item,
             item,
             window_offset + at,
             window.subspan(static_cast<size_t>(at), static_cast<size_t>(size))});
    ++pieces_[item];
  }
}

int ThreadsForRead(int requested, uint64_t bytes) {
  if (requested > 0) return requested;
  if (bytes < kParallelReadThreshold) return 1;
  // Four whatever the cores: from a cold page cache, reads in flight matter
  // more than cores (a 1 GiB owned load on 2 cores, 2 MiB reads, direct:
  // 0.312 s with 4 threads, 0.322 s with 2, medians of 8 interleaved); from
  // a warm one, 4 threads on 2 cores copied as fast as 2 (0.069 s, 0.070 s)
  // (tools/bench/load_bench load pread).
  return 4;
}

absl::Status ReadInParallel(absl::Span<const FileReadPlan> plans, int threads,
                            ReadProgressTracker* progress) {
  struct Task {
    const FileReadPlan* plan;
    const ReadPlan::Read* read;
    std::vector<uint32_t>* pieces_left;  // of the plan's items
  };
  std::vector<std::vector<uint32_t>> pieces_left;
  pieces_left.reserve(plans.size());
  std::vector<Task> tasks;
  uint64_t empty_items = 0;
  for (const FileReadPlan& p : plans) {
    // Counted down only to report progress.
    pieces_left.push_back(progress != nullptr ? p.plan->pieces() : std::vector<uint32_t>());
    empty_items += static_cast<uint64_t>(
        std::count(p.plan->pieces().begin(), p.plan->pieces().end(), 0u));
    for (const ReadPlan::Read& read : p.plan->reads()) {
      tasks.push_back(Task{&p, &read, &pieces_left.back()});
    }
  }
  if (progress != nullptr && empty_items > 0) progress->Add(0, empty_items);

  std::atomic<size_t> next{0};
  std::mutex mutex;  // guards the failure and pieces_left
  absl::Status first_error;
  size_t first_error_task = tasks.size();
  auto worker = [&] {
    for (size_t i = next++; i < tasks.size(); i = next++) {
      const Task& task = tasks[i];
      absl::Status status = ReadOne(*task.plan, *task.read);
      std::unique_lock<std::mutex> lock(mutex);
      if (!status.ok()) {
        if (i < first_error_task) {  // the earliest read that failed
          first_error_task = i;
          first_error = status;
        }
        next = tasks.size();
        continue;
      }
      if (progress == nullptr) continue;
      uint64_t completed = 0;
      for (size_t item = task.read->first_item; item <= task.read->last_item; ++item) {
        if (--(*task.pieces_left)[item] == 0) ++completed;
      }
      lock.unlock();
      progress->Add(task.read->bytes, completed);
    }
  };
  std::vector<std::thread> pool;
  const size_t helpers =
      std::min<size_t>(static_cast<size_t>(std::max(threads, 1)) - 1, tasks.size());
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
  const ReadPlan::Read& failed = *tasks[first_error_task].read;
  if (!failed.first_label.empty()) {
    first_error = AddContext(first_error,
                             absl::StrCat("reading tensor ", QuoteForMessage(failed.first_label),
                                          failed.labels > 1
                                              ? absl::StrCat(" and the ", failed.labels - 1,
                                                             " after it in the same read")
                                              : std::string()));
  }
  const absl::string_view context = tasks[first_error_task].plan->context;
  return context.empty() ? first_error : AddContext(first_error, context);
}

}  // namespace safetensors
