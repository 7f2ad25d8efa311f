#include "io/checkpoint.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <utility>

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

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

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
    SAFETENSORS_ASSIGN_OR_RETURN(CheckpointIndex index,
                                 ReadCheckpointIndex(resolved.index_path, options.index));
    checkpoint.index_ = std::move(index);
    const std::string dir = DirectoryOf(resolved.index_path);
    checkpoint.shards_.reserve(checkpoint.index_->shards().size());
    for (const std::string& name : checkpoint.index_->shards()) {
      SAFETENSORS_ASSIGN_OR_RETURN(CheckpointShard shard,
                                   OpenShard(name, absl::StrCat(dir, "/", name), options));
      checkpoint.shards_.push_back(std::move(shard));
    }
  }
  SAFETENSORS_RETURN_IF_ERROR(checkpoint.Validate(options));
  return checkpoint;
}

absl::Status Checkpoint::Validate(const CheckpointOptions& options) {
  size_t total = 0;
  for (const CheckpointShard& shard : shards_) total += shard.header.tensors().size();
  locations_.reserve(total);
  for (uint32_t s = 0; s < shards_.size(); ++s) {
    for (const TensorInfo& t : shards_[s].header.tensors()) {
      auto [it, added] = locations_.try_emplace(t.name, Location{s, &t});
      if (!added) {
        return MakeError(ErrorCode::kTensorInTwoShards,
                         absl::StrCat("tensor ", QuoteForMessage(t.name), " is in shard ",
                                      QuoteForMessage(shards_[it->second.shard].name),
                                      " and in shard ", QuoteForMessage(shards_[s].name)));
      }
    }
  }
  if (!index_.has_value()) return SumTensorBytes();

  for (const CheckpointIndex::Entry& entry : index_->weight_map()) {
    auto it = locations_.find(entry.tensor);
    if (it == locations_.end() || it->second.shard != entry.shard) {
      return MakeError(
          ErrorCode::kTensorNotInShard,
          absl::StrCat("weight_map puts tensor ", QuoteForMessage(entry.tensor), " in shard ",
                       QuoteForMessage(shards_[entry.shard].name), ", which does not hold it",
                       it == locations_.end()
                           ? std::string(" (no shard does)")
                           : absl::StrCat(" (shard ", QuoteForMessage(shards_[it->second.shard].name),
                                          " does)")));
    }
  }
  if (locations_.size() != index_->weight_map().size()) {
    std::vector<absl::string_view> unlisted;
    for (const auto& [name, location] : locations_) {
      if (!index_->ShardOf(name).has_value()) unlisted.push_back(name);
    }
    std::sort(unlisted.begin(), unlisted.end());
    if (!options.allow_unlisted_tensors) {
      const Location first = locations_[unlisted.front()];
      return MakeError(ErrorCode::kUnlistedTensor,
                       absl::StrCat("shard ", QuoteForMessage(shards_[first.shard].name),
                                    " holds tensor ", QuoteForMessage(unlisted.front()),
                                    ", which weight_map does not list (", unlisted.size(),
                                    " such tensors in all)"));
    }
    for (absl::string_view name : unlisted) locations_.erase(name);
  }
  SAFETENSORS_RETURN_IF_ERROR(SumTensorBytes());
  if (std::optional<uint64_t> claimed = index_->total_size(); claimed.has_value()) {
    const uint64_t held = tensor_bytes_;
    if (*claimed != held) {
      warnings_.push_back(absl::StrCat("index metadata total_size is ", *claimed,
                                       " but the shards hold ", held,
                                       " bytes of tensor data"));
    }
  }
  return absl::OkStatus();
}

absl::Status Checkpoint::SumTensorBytes() {
  tensor_bytes_ = 0;
  for (const auto& [name, location] : locations_) {
    if (!CheckedAdd(tensor_bytes_, location.info->num_bytes(), &tensor_bytes_)) {
      return MakeError(ErrorCode::kValidationOverflow,
                       "the shards' tensors hold more bytes than fit in 64 bits");
    }
  }
  return absl::OkStatus();
}

std::optional<Checkpoint::Location> Checkpoint::Find(absl::string_view name) const {
  auto it = locations_.find(name);
  if (it == locations_.end()) return std::nullopt;
  return it->second;
}

std::vector<Checkpoint::Location> Checkpoint::InShardOrder() const {
  std::vector<Location> out;
  out.reserve(locations_.size());
  for (uint32_t s = 0; s < shards_.size(); ++s) {
    for (const TensorInfo& t : shards_[s].header.tensors()) {
      auto it = locations_.find(t.name);
      if (it != locations_.end() && it->second.info == &t) out.push_back(it->second);
    }
  }
  return out;
}


}  // namespace safetensors
