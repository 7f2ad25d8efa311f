#include "io/checkpoint.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "io/header_file.h"
#include "parser/checked_math.h"
#include "parser/error.h"
#include "parser/status_macros.h"

namespace safetensors {
namespace {

constexpr absl::string_view kSuffixField = "{suffix}";
constexpr absl::string_view kIndexExtension = ".index.json";

// Whether `path` names something other than a directory. A FIFO, a socket,
// a dangling symlink or a symlink loop counts: File::Open then refuses it
// saying what it is, rather than resolution passing it over in silence.
bool IsFileLike(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return false;
  return !(::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode));
}

// The *.safetensors files in `dir`, sorted. Errors: kIoError.
absl::StatusOr<std::vector<std::string>> SafetensorsFilesIn(const std::string& dir) {
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) return MakeIoError(errno, absl::StrCat("cannot list ", QuoteForMessage(dir)));
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(handle)) {
    const std::string name = entry->d_name;
    if (absl::EndsWith(name, ".safetensors") && IsFileLike(dir + "/" + name)) {
      names.push_back(name);
    }
  }
  ::closedir(handle);
  std::sort(names.begin(), names.end());
  return names;
}

struct Resolved {
  std::string index_path;   // set for a sharded checkpoint
  std::string single_path;  // set for a single file
};

absl::StatusOr<Resolved> Resolve(const std::string& path, const CheckpointOptions& options) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return MakeIoError(errno, absl::StrCat("cannot open ", QuoteForMessage(path)));
  }
  if (!S_ISDIR(st.st_mode)) {
    if (absl::EndsWith(path, kIndexExtension)) return Resolved{path, ""};
    return Resolved{"", path};
  }
  SAFETENSORS_ASSIGN_OR_RETURN(const std::string single,
                               FormatFilenamePattern(options.filename_pattern, ""));
  const std::string index = absl::StrCat(path, "/", single, kIndexExtension);
  if (IsFileLike(index)) return Resolved{index, ""};
  if (IsFileLike(path + "/" + single)) return Resolved{"", path + "/" + single};
  SAFETENSORS_ASSIGN_OR_RETURN(const std::vector<std::string> files, SafetensorsFilesIn(path));
  if (files.size() == 1) return Resolved{"", path + "/" + files[0]};
  return MakeError(
      ErrorCode::kBadArgument,
      absl::StrCat("directory ", QuoteForMessage(path), " holds no ",
                   QuoteForMessage(single + std::string(kIndexExtension)), " or ",
                   QuoteForMessage(single), ", and ", files.size(),
                   " .safetensors files: not one checkpoint"));
}

absl::StatusOr<CheckpointShard> OpenShard(std::string name, std::string path,
                                          const CheckpointOptions& options) {
  absl::StatusOr<std::shared_ptr<File>> file = File::Open(path);
  if (!file.ok()) {
    if (file.status().code() == absl::StatusCode::kNotFound) {
      return MakeError(ErrorCode::kMissingShard,
                       absl::StrCat("shard ", QuoteForMessage(name), " named by the index is not ",
                                    "there (", file.status().message(), ")"));
    }
    return AddContext(file.status(), absl::StrCat("shard ", QuoteForMessage(name)));
  }
  absl::StatusOr<Header> header = ReadHeader(**file, options.parse);
  if (!header.ok()) return AddContext(header.status(), absl::StrCat("shard ", QuoteForMessage(name)));
  return CheckpointShard{std::move(name), std::move(path), *std::move(file), *std::move(header)};
}

// Whether each of weight_map's entries [begin, end) is in the shard it names.
// Each shard's tensor after the last one found is tried before a hash
// lookup: an index lists a shard's tensors in its order when both are sorted
// by name (huggingface_hub's index and the reference's files of one dtype)
// or both in state-dict order.
bool EntriesInTheirShards(const CheckpointIndex& index, const std::vector<CheckpointShard>& shards,
                          size_t begin, size_t end) {
  std::vector<size_t> next_in_shard(shards.size(), 0);
  for (size_t i = begin; i < end; ++i) {
    const CheckpointIndex::Entry& entry = index.weight_map()[i];
    const absl::Span<const TensorInfo> tensors = shards[entry.shard].header.tensors();
    size_t& next = next_in_shard[entry.shard];
    if (next < tensors.size() && tensors[next].name == entry.tensor) {
      ++next;
      continue;
    }
    const TensorInfo* found = shards[entry.shard].header.Find(entry.tensor);
    if (ABSL_PREDICT_FALSE(found == nullptr)) return false;
    next = static_cast<size_t>(found - tensors.data()) + 1;
  }
  return true;
}

// The parallel part of opening a sharded checkpoint (163 shards are 163
// files to open and parse, and ~90,000 names to look up): shards are opened
// and validated on helper threads as the index names them, so that they are
// parsed while the rest of the index still is; once the index is complete,
// every thread looks up weight_map entries in the shards they name. Finish()
// gathers the shards in shard-number order and reports the first failure in that order, whatever
// the threads' timing. No thread outlives the object.
class ShardOpener {
 public:
  ShardOpener(std::string dir, const CheckpointOptions& options)
      : dir_(std::move(dir)), options_(options) {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 1; i < std::min(cores, 8u); ++i) {
      try {
        helpers_.emplace_back([this] { Work(); });
      } catch (const std::system_error&) {
        break;  // fewer threads, same work
      }
    }
  }
  ShardOpener(const ShardOpener&) = delete;
  ShardOpener& operator=(const ShardOpener&) = delete;
  // Tasks not started are dropped (Finish was not reached: the index failed).
  ~ShardOpener() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.clear();
      closed_ = true;
    }
    wake_.notify_all();
    for (std::thread& helper : helpers_) helper.join();
  }

  void Add(uint32_t number, std::string name) {
    Post([this, number, name = std::move(name)] {
      absl::StatusOr<CheckpointShard> shard =
          OpenShard(name, absl::StrCat(dir_, "/", name), options_);
      std::lock_guard<std::mutex> lock(mutex_);
      if (opened_.size() <= number) opened_.resize(number + 1);
      opened_[number] = std::move(shard);
    });
  }

  struct Opened {
    std::vector<CheckpointShard> shards;
    // Every weight_map entry names a shard that holds its tensor.
    bool each_entry_in_its_shard = true;
  };

  // The `index`'s shards, numbered 0..count-1, each opened and validated.
  absl::StatusOr<Opened> Finish(const CheckpointIndex& index) {
    Drain();
    const size_t count = index.shards().size();
    Opened out;
    out.shards.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      if (i >= opened_.size() || !opened_[i].has_value()) {
        return MakeError(ErrorCode::kInternal, absl::StrCat("shard ", i, " was never opened"));
      }
      if (!opened_[i]->ok()) return opened_[i]->status();
      out.shards.push_back(*std::move(*opened_[i]));
    }
    // Runs of entries, in weight_map order: a run's lookups mostly stay in
    // a few shards' tables, which stay in cache.
    constexpr size_t kEntriesPerTask = 4096;
    const size_t entries = index.weight_map().size();
    // One flag per task; not vector<bool>, whose bits share bytes.
    std::vector<char> found((entries + kEntriesPerTask - 1) / kEntriesPerTask);
    for (size_t task = 0; task < found.size(); ++task) {
      Post([&index, &out, &found, task, entries] {
        const size_t begin = task * kEntriesPerTask;
        found[task] = EntriesInTheirShards(index, out.shards, begin,
                                           std::min(entries, begin + kEntriesPerTask))
                          ? 1
                          : 0;
      });
    }
    Drain();
    out.each_entry_in_its_shard =
        std::all_of(found.begin(), found.end(), [](char ok) { return ok != 0; });
    return out;
  }

 private:
  void Post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(task));
    }
    wake_.notify_one();
  }

  // Runs queued tasks until the queue is empty, then returns (`helper`
  // false) or, on a helper thread, waits for more until the object closes.
  void RunTasks(bool helper) {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (helper) wake_.wait(lock, [this] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
        ++running_;
      }
      task();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --running_;
      }
      idle_.notify_all();
    }
  }
  void Work() { RunTasks(/*helper=*/true); }

  // The caller's thread helps empty the queue, then waits for the tasks
  // still running (tasks post no tasks, so then all are done).
  void Drain() {
    RunTasks(/*helper=*/false);
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return running_ == 0; });
  }

  const std::string dir_;
  const CheckpointOptions& options_;
  std::mutex mutex_;
  std::condition_variable wake_;  // a task was posted, or the object closes
  std::condition_variable idle_;  // a task finished
  std::deque<std::function<void()>> queue_;
  int running_ = 0;
  bool closed_ = false;
  std::vector<std::optional<absl::StatusOr<CheckpointShard>>> opened_;  // by shard number
  std::vector<std::thread> helpers_;
};

}  // namespace

absl::StatusOr<std::string> FormatFilenamePattern(absl::string_view pattern,
                                                  absl::string_view suffix) {
  const size_t at = pattern.find(kSuffixField);
  if (at == absl::string_view::npos) {
    return MakeError(ErrorCode::kBadArgument,
                     absl::StrCat("filename pattern ", QuoteForMessage(pattern),
                                  " has no \"{suffix}\""));
  }
  return absl::StrCat(pattern.substr(0, at), suffix, pattern.substr(at + kSuffixField.size()));
}

absl::StatusOr<std::string> IndexPathOf(const std::string& path,
                                        const CheckpointOptions& options) {
  SAFETENSORS_ASSIGN_OR_RETURN(const Resolved resolved, Resolve(path, options));
  if (resolved.index_path.empty()) {
    return MakeError(ErrorCode::kBadArgument,
                     absl::StrCat(QuoteForMessage(path), " is a single file, not a sharded checkpoint"));
  }
  return resolved.index_path;
}

absl::StatusOr<CheckpointIndex> ReadCheckpointIndex(const std::string& index_path,
                                                    const IndexOptions& options) {
  SAFETENSORS_ASSIGN_OR_RETURN(const std::shared_ptr<File> file, File::Open(index_path));
  // The limit is checked on the file's size, before a byte is read.
  if (file->size() > options.max_index_size) {
    return MakeError(ErrorCode::kIndexTooLarge,
                     absl::StrCat("index ", QuoteForMessage(index_path), " of ", file->size(),
                                  " bytes exceeds the limit of ", options.max_index_size,
                                  " bytes"));
  }
  // Not zero-filled (a std::string would be): every byte is read into.
  const size_t size = static_cast<size_t>(file->size());
  const std::unique_ptr<char[]> text(new char[size]);
  SAFETENSORS_RETURN_IF_ERROR(
      file->ReadAt(0, absl::MakeSpan(reinterpret_cast<uint8_t*>(text.get()), size)));
  absl::StatusOr<CheckpointIndex> index =
      ParseCheckpointIndex(absl::string_view(text.get(), size), options);
  if (!index.ok()) {
    return AddContext(index.status(), absl::StrCat("index ", QuoteForMessage(index_path)));
  }
  return index;
}

absl::StatusOr<Checkpoint> Checkpoint::Open(const std::string& path,
                                            const CheckpointOptions& options) {
  SAFETENSORS_ASSIGN_OR_RETURN(const Resolved resolved, Resolve(path, options));
  Checkpoint checkpoint;
  bool each_entry_in_its_shard = true;  // trivially, for one file
  if (resolved.index_path.empty()) {
    SAFETENSORS_ASSIGN_OR_RETURN(
        CheckpointShard shard,
        OpenShard(BaseNameOf(resolved.single_path), resolved.single_path, options));
    checkpoint.shards_.push_back(std::move(shard));
  } else {
    checkpoint.index_path_ = resolved.index_path;
    ShardOpener opener(DirectoryOf(resolved.index_path), options);
    IndexOptions index_options = options.index;
    index_options.on_new_shard = [&opener](uint32_t number, absl::string_view name) {
      opener.Add(number, std::string(name));
    };
    SAFETENSORS_ASSIGN_OR_RETURN(CheckpointIndex index,
                                 ReadCheckpointIndex(resolved.index_path, index_options));
    checkpoint.index_ = std::move(index);
    SAFETENSORS_ASSIGN_OR_RETURN(ShardOpener::Opened opened, opener.Finish(*checkpoint.index_));
    checkpoint.shards_ = std::move(opened.shards);
    each_entry_in_its_shard = opened.each_entry_in_its_shard;
  }
  SAFETENSORS_RETURN_IF_ERROR(checkpoint.Validate(options, each_entry_in_its_shard));
  return checkpoint;
}

absl::Status Checkpoint::Validate(const CheckpointOptions& options,
                                  bool each_entry_in_its_shard) {
  uint64_t in_shards = 0;
  for (const CheckpointShard& shard : shards_) in_shards += shard.header.tensors().size();
  if (!index_.has_value()) {  // one file: its header alone decides
    num_tensors_ = in_shards;
    all_listed_ = true;
    return SumTensorBytes();
  }
  // Each weight_map tensor in the shard it names: looked up on all threads
  // when the shards were opened; if one is not, the first such is reported.
  for (const CheckpointIndex::Entry& entry : index_->weight_map()) {
    if (ABSL_PREDICT_TRUE(each_entry_in_its_shard)) break;
    if (shards_[entry.shard].header.Find(entry.tensor) != nullptr) continue;
    std::string elsewhere = " (no shard does)";
    for (const CheckpointShard& shard : shards_) {
      if (shard.header.Find(entry.tensor) != nullptr) {
        elsewhere = absl::StrCat(" (shard ", QuoteForMessage(shard.name), " does)");
        break;
      }
    }
    return MakeError(ErrorCode::kTensorNotInShard,
                     absl::StrCat("weight_map puts tensor ", QuoteForMessage(entry.tensor),
                                  " in shard ", QuoteForMessage(shards_[entry.shard].name),
                                  ", which does not hold it", elsewhere));
  }
  num_tensors_ = index_->weight_map().size();
  // weight_map's names are distinct and each was found: if the shards hold
  // no more tensors than that, they hold exactly those, once each.
  all_listed_ = in_shards == num_tensors_;
  if (!all_listed_) {
    absl::flat_hash_map<absl::string_view, uint32_t> seen;
    seen.reserve(static_cast<size_t>(in_shards));
    std::vector<const TensorInfo*> unlisted;
    uint32_t unlisted_shard = 0;
    for (uint32_t s = 0; s < shards_.size(); ++s) {
      for (const TensorInfo& t : shards_[s].header.tensors()) {
        auto [it, added] = seen.try_emplace(t.name, s);
        if (!added) {
          return MakeError(ErrorCode::kTensorInTwoShards,
                           absl::StrCat("tensor ", QuoteForMessage(t.name), " is in shard ",
                                        QuoteForMessage(shards_[it->second].name),
                                        " and in shard ", QuoteForMessage(shards_[s].name)));
        }
        if (!index_->ShardOf(t.name).has_value()) {
          if (unlisted.empty()) unlisted_shard = s;
          unlisted.push_back(&t);
        }
      }
    }
    if (!options.allow_unlisted_tensors) {
      return MakeError(ErrorCode::kUnlistedTensor,
                       absl::StrCat("shard ", QuoteForMessage(shards_[unlisted_shard].name),
                                    " holds tensor ", QuoteForMessage(unlisted.front()->name),
                                    ", which weight_map does not list (", unlisted.size(),
                                    " such tensors in all)"));
    }
  }
  return CheckTotalSize();
}

absl::Status Checkpoint::CheckTotalSize() {
  SAFETENSORS_RETURN_IF_ERROR(SumTensorBytes());
  if (std::optional<uint64_t> claimed = index_->total_size(); claimed.has_value()) {
    if (*claimed != tensor_bytes_) {
      warnings_.push_back(absl::StrCat("index metadata total_size is ", *claimed,
                                       " but the shards hold ", tensor_bytes_,
                                       " bytes of tensor data"));
    }
  }
  return absl::OkStatus();
}

absl::Status Checkpoint::SumTensorBytes() {
  tensor_bytes_ = 0;
  // With every tensor listed, a shard's tensors tile its data buffer.
  std::vector<uint64_t> sizes;
  if (all_listed_) {
    for (const CheckpointShard& shard : shards_) sizes.push_back(shard.header.data_size());
  } else {
    for (const Location& l : InShardOrder()) sizes.push_back(l.info->num_bytes());
  }
  for (uint64_t size : sizes) {
    if (!CheckedAdd(tensor_bytes_, size, &tensor_bytes_)) {
      return MakeError(ErrorCode::kValidationOverflow,
                       "the shards' tensors hold more bytes than fit in 64 bits");
    }
  }
  return absl::OkStatus();
}

std::optional<Checkpoint::Location> Checkpoint::Find(absl::string_view name) const {
  uint32_t shard = 0;
  if (index_.has_value()) {
    std::optional<uint32_t> listed = index_->ShardOf(name);
    if (!listed.has_value()) return std::nullopt;
    shard = *listed;
  }
  const TensorInfo* info = shards_[shard].header.Find(name);
  if (info == nullptr) return std::nullopt;
  return Location{shard, info};
}

std::vector<Checkpoint::Location> Checkpoint::InShardOrder() const {
  std::vector<Location> out;
  out.reserve(static_cast<size_t>(num_tensors_));
  for (uint32_t s = 0; s < shards_.size(); ++s) {
    for (const TensorInfo& t : shards_[s].header.tensors()) {
      if (all_listed_ || index_->ShardOf(t.name).has_value()) out.push_back(Location{s, &t});
    }
  }
  return out;
}

}  // namespace safetensors
