#include "torch_io/checkpoint.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <map>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "io/atomic_file.h"
#include "io/tensor_filter.h"
#include "parser/checked_math.h"
#include "parser/checkpoint_index_writer.h"
#include "parser/error.h"
#include "parser/status_macros.h"
#include "re2/re2.h"
#include "torch_io/materialize.h"
#include "torch_io/model_internal.h"
#include "torch_io/open_file.h"
#include "torch_io/save_internal.h"
#include "torch_io/pickle_load.h"
#include "torch_io/shared_tensors.h"
#include "torch_io/torch_errors.h"

namespace safetensors {

// --- reading ----------------------------------------------------------------

absl::StatusOr<CheckpointReader> CheckpointReader::Open(const std::string& path,
                                                        const DeviceSpec& device,
                                                        const LoadOptions& options,
                                                        const CheckpointOptions& checkpoint) {
  SAFETENSORS_ASSIGN_OR_RETURN(const c10::Device resolved, device.Resolve());
  SAFETENSORS_RETURN_IF_ERROR(internal::TensorFilter::Compile(options.tensor_filter).status());
  CheckpointOptions effective = checkpoint;
  effective.parse = options.parse;
  SAFETENSORS_ASSIGN_OR_RETURN(Checkpoint opened, Checkpoint::Open(path, effective));
  CheckpointReader reader;
  reader.checkpoint_ = std::make_shared<const Checkpoint>(std::move(opened));
  const Checkpoint& c = *reader.checkpoint_;
  reader.shards_.reserve(c.shards().size());
  for (uint32_t s = 0; s < c.shards().size(); ++s) {
    // The shard's header stays in the Checkpoint, which the alias keeps alive.
    std::shared_ptr<const Header> header(reader.checkpoint_, &c.shards()[s].header);
    SAFETENSORS_ASSIGN_OR_RETURN(
        std::shared_ptr<internal::OpenFile> open,
        internal::MakeOpenFile(c.shards()[s].file, std::move(header), resolved, options));
    // Tensors the index does not list (allow_unlisted_tensors) are not there.
    for (size_t i = 0; i < open->selected.size(); ++i) {
      if (!open->selected[i]) continue;
      std::optional<Checkpoint::Location> where = c.Find(open->header->tensors()[i].name);
      open->selected[i] = where.has_value() && where->shard == s;
    }
    reader.shards_.push_back(SafeOpen(std::move(open)));
  }
  if (c.index().has_value()) {
    MetadataEntries entries;
    for (const IndexMetadataEntry& e : c.index()->metadata()) entries.emplace_back(e.key, e.value);
    if (!entries.empty()) reader.metadata_ = std::move(entries);
  } else {
    reader.metadata_ = c.shards()[0].header.metadata();
  }
  return reader;
}

std::vector<std::string> CheckpointReader::offset_keys() const {
  std::vector<std::string> names;
  for (const SafeOpen& shard : shards_) {
    std::vector<std::string> more = shard.offset_keys();
    names.insert(names.end(), std::make_move_iterator(more.begin()),
                 std::make_move_iterator(more.end()));
  }
  return names;
}

std::vector<std::string> CheckpointReader::keys() const {
  std::vector<std::string> names = offset_keys();
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<const SafeOpen*> CheckpointReader::ShardOf(absl::string_view name) const {
  std::optional<Checkpoint::Location> where = checkpoint_->Find(name);
  if (!where.has_value()) {
    return MakeError(ErrorCode::kTensorNotFound,
                     absl::StrCat("no tensor named ", QuoteForMessage(name), " in the checkpoint"));
  }
  return &shards_[where->shard];
}

absl::StatusOr<std::string> CheckpointReader::get_shard(absl::string_view name) const {
  SAFETENSORS_ASSIGN_OR_RETURN(const SafeOpen* shard, ShardOf(name));
  SAFETENSORS_RETURN_IF_ERROR(shard->get_slice(name).status());  // selected?
  return checkpoint_->shards()[static_cast<size_t>(shard - shards_.data())].name;
}

absl::StatusOr<at::Tensor> CheckpointReader::get_tensor(absl::string_view name) const {
  SAFETENSORS_ASSIGN_OR_RETURN(const SafeOpen* shard, ShardOf(name));
  return shard->get_tensor(name);
}

absl::StatusOr<TensorSlice> CheckpointReader::get_slice(absl::string_view name) const {
  SAFETENSORS_ASSIGN_OR_RETURN(const SafeOpen* shard, ShardOf(name));
  return shard->get_slice(name);
}

std::vector<internal::FileToLoad> CheckpointReader::FilesToLoad() const {
  std::vector<internal::FileToLoad> files;
  files.reserve(shards_.size());
  for (size_t s = 0; s < shards_.size(); ++s) {
    files.push_back({shards_[s].file_.get(),
                     absl::StrCat("shard ", QuoteForMessage(checkpoint_->shards()[s].name))});
  }
  return files;
}

absl::StatusOr<TensorDict> CheckpointReader::get_tensors() const {
  return internal::MaterializeAll(FilesToLoad());
}

absl::StatusOr<TensorDict> load_checkpoint(const std::string& path, const DeviceSpec& device,
                                           const LoadOptions& options,
                                           const CheckpointOptions& checkpoint) {
  SAFETENSORS_ASSIGN_OR_RETURN(CheckpointReader reader,
                               CheckpointReader::Open(path, device, options, checkpoint));
  return reader.get_tensors();
}

absl::StatusOr<LoadModelResult> load_torch_model(torch::nn::Module& model,
                                                 const std::string& path, bool strict,
                                                 const DeviceSpec& device,
                                                 const LoadOptions& options,
                                                 const CheckpointOptions& checkpoint) {
  if (IsPickleCheckpointPath(path)) {
    SAFETENSORS_RETURN_IF_ERROR(device.Resolve().status());
    LoadOptions mapped = options;
    mapped.backend = Backend::kMmap;
    mapped.progress = nullptr;
    SAFETENSORS_ASSIGN_OR_RETURN(const TensorDict tensors, load_pickle_checkpoint(path, "cpu", mapped));
    return internal::LoadTensorsIntoModel(model, tensors, strict, options);
  }
  SAFETENSORS_ASSIGN_OR_RETURN(
      const CheckpointReader reader,
      CheckpointReader::Open(path, device, internal::ForReading(options), checkpoint));
  return internal::LoadIntoModel(model, reader.FilesToLoad(), strict, options);
}

// --- writing ----------------------------------------------------------------

absl::StatusOr<uint64_t> ParseSizeToInt(absl::string_view size) {
  const absl::string_view text = absl::StripAsciiWhitespace(size);
  const std::map<std::string, uint64_t> units = {
      {"TB", 1'000'000'000'000}, {"GB", 1'000'000'000}, {"MB", 1'000'000}, {"KB", 1'000}};
  const std::string unit = absl::AsciiStrToUpper(text.substr(text.size() < 2 ? 0 : text.size() - 2));
  auto it = units.find(unit);
  double value = 0;
  if (it == units.end() ||
      !absl::SimpleAtod(absl::StripAsciiWhitespace(text.substr(0, text.size() - 2)), &value) ||
      !std::isfinite(value) || value < 0 ||
      value * static_cast<double>(it->second) >= 18446744073709551616.0) {
    return MakeError(ErrorCode::kBadArgument,
                     absl::StrCat("size ", QuoteForMessage(size),
                                  " is not a number with a unit of TB, GB, MB or KB"));
  }
  return static_cast<uint64_t>(value * static_cast<double>(it->second));
}

namespace {

// huggingface_hub's get_torch_storage_id: (device, storage address, storage
// bytes); none for meta tensors.
using StorageId = std::tuple<std::string, uintptr_t, uint64_t>;

std::optional<StorageId> StorageIdOf(const at::Tensor& t) {
  if (t.is_meta() || !t.has_storage()) return std::nullopt;
  return StorageId{t.device().str(), reinterpret_cast<uintptr_t>(t.storage().data()),
                   static_cast<uint64_t>(t.storage().nbytes())};
}

// huggingface_hub's get_torch_storage_size: the whole storage, not the view.
uint64_t StorageBytes(const at::Tensor& t) {
  if (t.is_meta() || !t.has_storage()) return static_cast<uint64_t>(t.nbytes());
  return static_cast<uint64_t>(t.storage().nbytes());
}

}  // namespace

absl::StatusOr<StateDictSplit> split_torch_state_dict_into_shards(const TensorDict& state_dict,
                                                                 absl::string_view filename_pattern,
                                                                 uint64_t max_shard_size) {
  std::vector<std::pair<StorageId, std::vector<std::string>>> storages;  // insertion order
  std::map<StorageId, size_t> storage_position;
  std::vector<std::vector<std::string>> shards;
  std::vector<std::string> current;
  uint64_t current_size = 0;
  StateDictSplit split;
  auto add = [](uint64_t& sum, uint64_t bytes) -> absl::Status {
    if (!CheckedAdd(sum, bytes, &sum)) {
      return MakeError(ErrorCode::kValidationOverflow, "the state dict's size overflows 64 bits");
    }
    return absl::OkStatus();
  };
  for (const auto& item : state_dict) {
    const at::Tensor& t = item.value();
    if (!t.defined()) {
      return MakeError(ErrorCode::kInvalidTensor,
                       absl::StrCat("undefined tensors cannot be saved: ", QuoteForMessage(item.key())));
    }
    if (std::optional<StorageId> id = StorageIdOf(t)) {
      auto [it, added] = storage_position.try_emplace(*id, storages.size());
      if (!added) {
        storages[it->second].second.push_back(item.key());
        continue;
      }
      storages.push_back({*id, {item.key()}});
    }
    const uint64_t size = StorageBytes(t);
    if (size > max_shard_size) {
      SAFETENSORS_RETURN_IF_ERROR(add(split.total_size, size));
      shards.push_back({item.key()});
      continue;
    }
    if (current_size + size > max_shard_size) {  // both <= max: no overflow
      shards.push_back(std::move(current));
      current.clear();
      current_size = 0;
    }
    current.push_back(item.key());
    current_size += size;
    SAFETENSORS_RETURN_IF_ERROR(add(split.total_size, size));
  }
  if (!current.empty()) shards.push_back(std::move(current));
  // Tensors sharing a storage join the shard of the first of them.
  for (const auto& [id, names] : storages) {
    if (names.size() < 2) continue;
    for (std::vector<std::string>& shard : shards) {
      if (std::find(shard.begin(), shard.end(), names[0]) == shard.end()) continue;
      shard.insert(shard.end(), names.begin() + 1, names.end());
      break;
    }
  }
  split.is_sharded = shards.size() > 1;
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string suffix =
        shards.size() == 1 ? "" : absl::StrFormat("-%05d-of-%05d", i + 1, shards.size());
    SAFETENSORS_ASSIGN_OR_RETURN(std::string filename,
                                 FormatFilenamePattern(filename_pattern, suffix));
    for (const std::string& name : shards[i]) split.tensor_to_filename.emplace_back(name, filename);
    split.filename_to_tensors.emplace_back(std::move(filename), std::move(shards[i]));
  }
  if (shards.empty()) {
    // As huggingface_hub: the empty pattern is still validated.
    SAFETENSORS_RETURN_IF_ERROR(FormatFilenamePattern(filename_pattern, "").status());
  }
  return split;
}

namespace {

// Python's dict.update on an ordered list: an existing key keeps its place.
void SetEntry(MetadataEntries& entries, const std::string& key, const std::string& value) {
  for (auto& entry : entries) {
    if (entry.first == key) {
      entry.second = value;
      return;
    }
  }
  entries.emplace_back(key, value);
}

// huggingface_hub's _clean_state_dict_for_safetensors: shared tensors
// dropped, each recorded in `metadata` as dropped -> kept (unless the caller
// already used that key), in the order huggingface_hub meets them (by first
// appearance in the state dict); then packed when force_contiguous.
absl::StatusOr<TensorDict> CleanForSafetensors(const TensorDict& state_dict,
                                               const SaveCheckpointOptions& options,
                                               MetadataEntries& metadata) {
  SAFETENSORS_ASSIGN_OR_RETURN(
      const auto to_remove,
      internal::RemoveDuplicateNames(state_dict, {}, options.shared_tensors_to_discard));
  std::map<std::string, size_t> position;
  for (size_t i = 0; i < state_dict.size(); ++i) position[state_dict.keys()[i]] = i;
  std::vector<std::pair<size_t, const std::pair<const std::string, std::vector<std::string>>*>>
      groups;
  for (const auto& group : to_remove) {
    size_t first = position[group.first];
    for (const std::string& name : group.second) first = std::min(first, position[name]);
    groups.emplace_back(first, &group);
  }
  std::sort(groups.begin(), groups.end());
  std::set<std::string> dropped;
  for (const auto& [first, group] : groups) {
    for (const std::string& name : group->second) {
      const bool user_key = std::any_of(metadata.begin(), metadata.end(),
                                        [&](const auto& e) { return e.first == name; });
      if (!user_key) metadata.emplace_back(name, group->first);  // never override user data
      dropped.insert(name);
    }
  }
  TensorDict clean;
  for (const auto& item : state_dict) {
    if (dropped.count(item.key()) != 0) continue;
    if (!options.force_contiguous) {
      clean.insert(item.key(), item.value());
      continue;
    }
    SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor packed, CallTorch("packing a tensor", [&] {
                                   return item.value().contiguous();
                                 }));
    clean.insert(item.key(), std::move(packed));
  }
  return clean;
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return MakeIoError(errno, absl::StrCat("cannot open ", QuoteForMessage(dir)));
  ::fsync(fd);
  ::close(fd);
  return absl::OkStatus();
}

// Files of an earlier save with `pattern` (huggingface_hub's regex) that
// `keep` does not name.
std::vector<std::string> StaleFiles(const std::string& dir, absl::string_view pattern,
                                    const std::set<std::string>& keep) {
  const size_t at = pattern.find("{suffix}");
  const std::string regex =
      absl::StrCat(RE2::QuoteMeta(re2::StringPiece(pattern.data(), at)), R"((-\d{5}-of-\d{5})?)",
                   RE2::QuoteMeta(re2::StringPiece(pattern.data() + at + 8, pattern.size() - at - 8)),
                   R"((\.index\.json)?)");
  const RE2 matcher(regex);
  std::vector<std::string> stale;
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) return stale;
  while (const dirent* entry = ::readdir(handle)) {
    const std::string name = entry->d_name;
    if (keep.count(name) == 0 && RE2::FullMatch(name, matcher)) stale.push_back(name);
  }
  ::closedir(handle);
  return stale;
}

}  // namespace

absl::Status save_torch_state_dict(const TensorDict& state_dict, const std::string& save_directory,
                                   const SaveCheckpointOptions& options) {
  struct stat st;
  if (::stat(save_directory.c_str(), &st) != 0) {
    return MakeIoError(errno, absl::StrCat("cannot save into ", QuoteForMessage(save_directory)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return MakeIoError(ENOTDIR, absl::StrCat("cannot save into ", QuoteForMessage(save_directory)));
  }
  MetadataEntries metadata = options.metadata;
  SAFETENSORS_ASSIGN_OR_RETURN(const TensorDict clean,
                               CleanForSafetensors(state_dict, options, metadata));
  SAFETENSORS_ASSIGN_OR_RETURN(
      const StateDictSplit split,
      split_torch_state_dict_into_shards(clean, options.filename_pattern, options.max_shard_size));

  // 1. Every file complete under a temporary name.
  MetadataEntries per_file = {{"format", "pt"}};
  if (!split.is_sharded) {
    for (const auto& [key, value] : metadata) SetEntry(per_file, key, value);
  }
  std::vector<AtomicFileWriter> writers;
  std::set<std::string> written;
  for (const auto& [filename, names] : split.filename_to_tensors) {
    TensorDict shard;
    for (const std::string& name : names) shard.insert(name, clean[name]);
    SAFETENSORS_ASSIGN_OR_RETURN(
        AtomicFileWriter writer,
        internal::WriteToTemporary(shard, absl::StrCat(save_directory, "/", filename), per_file));
    writers.push_back(std::move(writer));
    written.insert(filename);
  }
  SAFETENSORS_ASSIGN_OR_RETURN(const std::string single_name,
                               FormatFilenamePattern(options.filename_pattern, ""));
  const std::string index_name = single_name + ".index.json";
  std::optional<AtomicFileWriter> index_writer;
  if (split.is_sharded) {
    std::vector<IndexMetadataEntry> entries = {
        {"total_size", absl::StrCat(split.total_size), /*is_number=*/true}};
    // Python's {**split.metadata, **metadata}: a key already there keeps its
    // place and takes the new value.
    for (const std::pair<std::string, std::string>& entry : metadata) {
      auto same = std::find_if(entries.begin(), entries.end(),
                               [&](const IndexMetadataEntry& e) { return e.key == entry.first; });
      if (same != entries.end()) {
        *same = IndexMetadataEntry{entry.first, entry.second, false};
      } else {
        entries.push_back(IndexMetadataEntry{entry.first, entry.second, false});
      }
    }
    SAFETENSORS_ASSIGN_OR_RETURN(const std::string text,
                                 SerializeCheckpointIndex(entries, split.tensor_to_filename));
    SAFETENSORS_ASSIGN_OR_RETURN(AtomicFileWriter writer,
                                 AtomicFileWriter::Create(absl::StrCat(save_directory, "/", index_name)));
    SAFETENSORS_RETURN_IF_ERROR(writer.Append(text));
    SAFETENSORS_RETURN_IF_ERROR(writer.Finish());
    index_writer.emplace(std::move(writer));
    written.insert(index_name);
  }
  if (writers.empty()) return absl::OkStatus();  // an empty state dict writes nothing

  // 2. No index while shards change, so no reader can pair the old index
  // with new shards.
  const std::string old_index = absl::StrCat(save_directory, "/", index_name);
  if (::unlink(old_index.c_str()) == 0) {
    SAFETENSORS_RETURN_IF_ERROR(SyncDirectory(save_directory));
  } else if (errno != ENOENT) {
    return MakeIoError(errno, absl::StrCat("cannot remove the old index ", QuoteForMessage(old_index)));
  }
  // 3. Shards, then the index.
  for (AtomicFileWriter& writer : writers) SAFETENSORS_RETURN_IF_ERROR(writer.Commit());
  if (index_writer.has_value()) SAFETENSORS_RETURN_IF_ERROR(index_writer->Commit());
  // 4. What the old checkpoint had and the new one does not.
  for (const std::string& name : StaleFiles(save_directory, options.filename_pattern, written)) {
    ::unlink(absl::StrCat(save_directory, "/", name).c_str());
  }
  return SyncDirectory(save_directory);
}

absl::Status save_torch_model(const torch::nn::Module& model, const std::string& save_directory,
                              const SaveCheckpointOptions& options) {
  SAFETENSORS_ASSIGN_OR_RETURN(
      const TensorDict state,
      CallTorch("listing the model's tensors", [&] { return internal::StateDict(model); }));
  return save_torch_state_dict(state, save_directory, options);
}

}  // namespace safetensors
