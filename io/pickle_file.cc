#include "io/pickle_file.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "io/checkpoint.h"
#include "parser/error.h"
#include "parser/status_macros.h"

namespace safetensors {

absl::StatusOr<PickleCheckpointFile> OpenPickleCheckpoint(const std::string& path,
                                                          const PickleCheckpointOptions& options) {
  PickleCheckpointFile result;
  SAFETENSORS_ASSIGN_OR_RETURN(result.file, File::Open(path));
  SAFETENSORS_ASSIGN_OR_RETURN(result.mapping, Mapping::Map(*result.file));
  // The zip reader reads one local header per entry, scattered through the
  // file: read ahead together, and given back once parsed.
  const absl::Span<uint8_t> bytes = result.mapping->bytes();
  absl::StatusOr<PickleCheckpoint> table;
  {
    ScatteredReadAhead read_ahead(*result.file, bytes);
    PickleCheckpointOptions with_hints = options;
    with_hints.will_read = [&read_ahead](uint64_t offset, uint64_t length) { read_ahead.WillRead(offset, length); };
    table = ParsePickleCheckpoint(bytes, with_hints);
  }
  if (!table.ok()) return table.status();
  result.table = *std::move(table);
  return result;
}

namespace {

bool IsFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

bool HoldsSafetensors(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (const dirent* entry = ::readdir(d)) {
    if (absl::EndsWith(entry->d_name, ".safetensors") || absl::EndsWith(entry->d_name, ".safetensors.index.json")) {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

}  // namespace

PickleCheckpointPath ResolvePickleCheckpointPath(const std::string& path) {
  if (IsDirectory(path)) {
    const std::string index = absl::StrCat(path, "/", kPickleIndexName);
    if (IsFile(index)) return {index, true};
    return {path + "/pytorch_model.bin", false};
  }
  return {path, absl::EndsWith(path, ".index.json")};
}

absl::StatusOr<ShardedPickleCheckpoint> OpenShardedPickleCheckpoint(const std::string& index_path,
                                                                    const PickleCheckpointOptions& options) {
  IndexOptions index_options;
  index_options.shard_extension = ".bin";
  SAFETENSORS_ASSIGN_OR_RETURN(CheckpointIndex index, ReadCheckpointIndex(index_path, index_options));
  ShardedPickleCheckpoint result{DirectoryOf(index_path) + "/", std::move(index), {}};
  const std::vector<std::string>& names = result.index.shards();
  for (const std::string& name : names) {
    absl::StatusOr<PickleCheckpointFile> f = OpenPickleCheckpoint(result.directory + name, options);
    if (!f.ok()) return AddContext(f.status(), absl::StrCat("shard ", QuoteForMessage(name)));
    result.shards.push_back(*std::move(f));
  }
  absl::flat_hash_map<absl::string_view, uint32_t> holder;  // tensor -> shard
  for (uint32_t s = 0; s < result.shards.size(); ++s) {
    for (const PickleTensor& t : result.shards[s].table.tensors) {
      const auto [it, added] = holder.try_emplace(t.name, s);
      if (!added) {
        return MakeError(ErrorCode::kTensorInTwoShards,
                         absl::StrCat("tensor ", QuoteForMessage(t.name), " is in shard ",
                                      QuoteForMessage(names[it->second]), " and in shard ",
                                      QuoteForMessage(names[s])));
      }
      const std::optional<uint32_t> listed = result.index.ShardOf(t.name);
      if (listed != s) {
        return MakeError(ErrorCode::kUnlistedTensor,
                         absl::StrCat("shard ", QuoteForMessage(names[s]), " holds tensor ", QuoteForMessage(t.name),
                                      listed.has_value()
                                          ? absl::StrCat(", which weight_map puts in shard ",
                                                         QuoteForMessage(names[*listed]))
                                          : std::string(", which weight_map does not list")));
      }
    }
  }
  // Each shard holds only what weight_map gives it: what is left is a name
  // weight_map gives a shard that lacks it.
  for (const CheckpointIndex::Entry& entry : result.index.weight_map()) {
    if (holder.contains(entry.tensor)) continue;
    return MakeError(ErrorCode::kTensorNotInShard,
                     absl::StrCat("weight_map puts tensor ", QuoteForMessage(entry.tensor), " in shard ",
                                  QuoteForMessage(names[entry.shard]), ", which does not hold it"));
  }
  return result;
}

bool IsPickleCheckpointPath(const std::string& path) {
  if (IsDirectory(path)) {
    return !HoldsSafetensors(path) &&
           (IsFile(absl::StrCat(path, "/", kPickleIndexName)) || IsFile(path + "/pytorch_model.bin"));
  }
  if (absl::EndsWith(path, kPickleIndexName)) return true;
  return IsPickleCheckpointFile(path).value_or(false);
}

absl::StatusOr<bool> IsPickleCheckpointFile(const std::string& path) {
  SAFETENSORS_ASSIGN_OR_RETURN(const std::shared_ptr<File> file, File::Open(path));
  uint8_t start[16] = {};
  const size_t size = static_cast<size_t>(std::min<uint64_t>(file->size(), sizeof start));
  SAFETENSORS_RETURN_IF_ERROR(file->ReadAt(0, absl::MakeSpan(start, size)));
  return LooksLikePickleCheckpoint(absl::MakeConstSpan(start, size));
}

}  // namespace safetensors
