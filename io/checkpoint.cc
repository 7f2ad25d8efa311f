#include "io/checkpoint.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <deque>
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

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The *.safetensors files in `dir`, sorted. Errors: kIoError.
absl::StatusOr<std::vector<std::string>> SafetensorsFilesIn(const std::string& dir) {
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) return MakeIoError(errno, absl::StrCat("cannot list ", QuoteForMessage(dir)));
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(handle)) {
    const std::string name = entry->d_name;
    if (absl::EndsWith(name, ".safetensors") && IsRegularFile(dir + "/" + name)) {
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
  if (IsRegularFile(index)) return Resolved{index, ""};
  if (IsRegularFile(path + "/" + single)) return Resolved{"", path + "/" + single};
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

// Opens and validates shards on helper threads as the index names them, so
// that shards are parsed while the rest of the index still is (a checkpoint
// of 163 shards is 163 files to open and parse). Finish() gathers them in
// shard-number order and reports the first failure in that order, whatever
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
  ~ShardOpener() { Stop(); }

  void Add(uint32_t number, std::string name) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.emplace_back(number, std::move(name));
    }
    wake_.notify_one();
  }

  // The `count` shards numbered 0..count-1, each opened and validated.
  absl::StatusOr<std::vector<CheckpointShard>> Finish(size_t count) {
    Stop();
    std::vector<CheckpointShard> shards;
    shards.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      if (i >= results_.size() || !results_[i].has_value()) {
        return MakeError(ErrorCode::kInternal, absl::StrCat("shard ", i, " was never opened"));
      }
      if (!results_[i]->ok()) return results_[i]->status();
      shards.push_back(*std::move(*results_[i]));
    }
    return shards;
  }

 private:
  // Takes queued shards until the queue is empty and no more will come.
  void Work() {
    for (;;) {
      std::pair<uint32_t, std::string> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return done_ || !queue_.empty(); });
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      absl::StatusOr<CheckpointShard> shard =
          OpenShard(task.second, absl::StrCat(dir_, "/", task.second), options_);
      std::lock_guard<std::mutex> lock(mutex_);
      if (results_.size() <= task.first) results_.resize(task.first + 1);
      results_[task.first] = std::move(shard);
    }
  }

  // No more shards: the caller's thread helps empty the queue, then every
  // helper is joined.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (done_) return;
      done_ = true;
    }
    wake_.notify_all();
    Work();
    for (std::thread& helper : helpers_) helper.join();
  }

  const std::string dir_;
  const CheckpointOptions& options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<uint32_t, std::string>> queue_;
  bool done_ = false;
  std::vector<std::optional<absl::StatusOr<CheckpointShard>>> results_;  // by shard number
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
  std::string text(static_cast<size_t>(file->size()), '\0');
  SAFETENSORS_RETURN_IF_ERROR(
      file->ReadAt(0, absl::MakeSpan(reinterpret_cast<uint8_t*>(text.data()), text.size())));
  absl::StatusOr<CheckpointIndex> index = ParseCheckpointIndex(text, options);
  if (!index.ok()) {
    return AddContext(index.status(), absl::StrCat("index ", QuoteForMessage(index_path)));
  }
  return index;
}

absl::StatusOr<Checkpoint> Checkpoint::Open(const std::string& path,
                                            const CheckpointOptions& options) {
  SAFETENSORS_ASSIGN_OR_RETURN(const Resolved resolved, Resolve(path, options));
  Checkpoint checkpoint;
  if (resolved.index_path.empty()) {
    SAFETENSORS_ASSIGN_OR_RETURN(
        CheckpointShard shard,
        OpenShard(BaseName(resolved.single_path), resolved.single_path, options));
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
    SAFETENSORS_ASSIGN_OR_RETURN(checkpoint.shards_,
                                 opener.Finish(checkpoint.index_->shards().size()));
  }
  SAFETENSORS_RETURN_IF_ERROR(checkpoint.Validate(options));
  return checkpoint;
}

absl::Status Checkpoint::Validate(const CheckpointOptions& options) {
  uint64_t in_shards = 0;
  for (const CheckpointShard& shard : shards_) in_shards += shard.header.tensors().size();
  if (!index_.has_value()) {  // one file: its header alone decides
    num_tensors_ = in_shards;
    all_listed_ = true;
    return SumTensorBytes();
  }
  // Each weight_map tensor in the shard it names: one lookup each.
  for (const CheckpointIndex::Entry& entry : index_->weight_map()) {
    if (ABSL_PREDICT_TRUE(shards_[entry.shard].header.Find(entry.tensor) != nullptr)) continue;
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
