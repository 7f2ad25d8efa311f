#include "torch_io/pickle_load.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <c10/core/ScalarType.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "io/checkpoint.h"
#include "io/file.h"
#include "io/pickle_file.h"
#include "parser/checkpoint_index.h"
#include "io/tensor_filter.h"
#include "parser/dtype.h"
#include "parser/error.h"
#include "parser/status_macros.h"
#include "torch_io/dtype_map.h"
#include "torch_io/materialize.h"
#include "torch_io/torch_errors.h"

namespace safetensors {
namespace {

// Reverses the bytes of each `element_size`-byte element of `bytes`.
void SwapElements(absl::Span<uint8_t> bytes, size_t element_size) {
  for (size_t at = 0; at + element_size <= bytes.size(); at += element_size) {
    for (size_t i = 0, j = element_size - 1; i < j; ++i, --j) std::swap(bytes[at + i], bytes[at + j]);
  }
}

// The storage as a 1-D CPU tensor of its dtype: a view of the mapping where
// that is safe, else memory of its own filled from the file.
absl::StatusOr<at::Tensor> LoadStorage(const PickleCheckpointFile& f, const PickleStorage& storage,
                                       Backend backend) {
  SAFETENSORS_ASSIGN_OR_RETURN(const c10::ScalarType type, ToScalarType(storage.dtype, storage.key));
  const size_t element_size = static_cast<size_t>(DtypeBits(storage.dtype) / 8);
  const int64_t numel = static_cast<int64_t>(storage.numel);
  const absl::Span<uint8_t> mapped =
      f.mapping->bytes().subspan(static_cast<size_t>(storage.byte_offset), static_cast<size_t>(storage.byte_size));
  if (backend == Backend::kMmap && !f.table.big_endian && !mapped.empty() &&
      reinterpret_cast<uintptr_t>(mapped.data()) % element_size == 0) {
    std::shared_ptr<Mapping> keep = f.mapping;
    return CallTorch("wrapping mapped memory", [&] {
      return at::from_blob(mapped.data(), {numel}, [keep](void*) {}, at::TensorOptions().dtype(type));
    });
  }
  SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor tensor, CallTorch("allocating a storage", [&] {
                                 return at::empty({numel}, at::TensorOptions().dtype(type));
                               }));
  const absl::Span<uint8_t> bytes = internal::BytesOf(tensor);
  SAFETENSORS_RETURN_IF_ERROR(f.file->ReadAt(storage.byte_offset, bytes));
  if (f.table.big_endian) SwapElements(bytes, element_size);
  return tensor;
}

}  // namespace

absl::StatusOr<TensorDict> load_pickle_file(const std::string& path, const DeviceSpec& device,
                                            const LoadOptions& options, const PickleCheckpointOptions& pickle) {
  SAFETENSORS_ASSIGN_OR_RETURN(const c10::Device target, device.Resolve());
  SAFETENSORS_ASSIGN_OR_RETURN(const internal::TensorFilter filter,
                               internal::TensorFilter::Compile(options.tensor_filter));
  SAFETENSORS_ASSIGN_OR_RETURN(const PickleCheckpointFile f, OpenPickleCheckpoint(path, pickle));
  std::vector<const PickleTensor*> selected;
  std::vector<bool> needed(f.table.storages.size(), false);
  LoadProgress progress;
  for (const PickleTensor& t : f.table.tensors) {
    if (!filter.Selects(t.name)) continue;
    selected.push_back(&t);
    if (!needed[t.storage]) progress.bytes_total += f.table.storages[t.storage].byte_size;
    needed[t.storage] = true;
  }
  progress.tensors_total = selected.size();
  std::vector<at::Tensor> storages(f.table.storages.size());
  for (size_t i = 0; i < storages.size(); ++i) {
    if (!needed[i]) continue;
    absl::StatusOr<at::Tensor> storage = LoadStorage(f, f.table.storages[i], options.backend);
    if (!storage.ok()) {
      return AddContext(storage.status(), absl::StrCat(QuoteForMessage(path), ": storage ",
                                                       QuoteForMessage(f.table.storages[i].key)));
    }
    storages[i] = *std::move(storage);
    if (!target.is_cpu()) {
      SAFETENSORS_ASSIGN_OR_RETURN(storages[i], internal::ToDevice(storages[i], target));
    }
    progress.bytes_done += f.table.storages[i].byte_size;
    if (options.progress) options.progress(progress);
  }
  TensorDict result;
  for (const PickleTensor* t : selected) {
    std::vector<int64_t> sizes(t->shape.begin(), t->shape.end());
    std::vector<int64_t> strides(t->strides.begin(), t->strides.end());
    // In range: the parser checked every extent against its storage.
    SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor view, CallTorch("viewing a storage", [&] {
                                   return storages[t->storage].as_strided(
                                       sizes, strides, static_cast<int64_t>(t->storage_offset));
                                 }));
    result.insert(t->name, std::move(view));
    ++progress.tensors_done;
  }
  if (options.progress && progress.tensors_total > 0) options.progress(progress);
  return result;
}

namespace {

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

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

bool IsPickleCheckpointPath(const std::string& path) {
  if (IsDirectory(path)) {
    return !HoldsSafetensors(path) && (IsFile(absl::StrCat(path, "/", kPickleCheckpointIndexName)) ||
                                       IsFile(path + "/pytorch_model.bin"));
  }
  if (absl::EndsWith(path, kPickleCheckpointIndexName)) return true;
  return IsPickleCheckpointFile(path).value_or(false);
}

absl::StatusOr<TensorDict> load_pickle_checkpoint(const std::string& path, const DeviceSpec& device,
                                                  const LoadOptions& options, const PickleCheckpointOptions& pickle) {
  std::string index_path = path;
  if (IsDirectory(path)) {
    index_path = absl::StrCat(path, "/", kPickleCheckpointIndexName);
    if (!IsFile(index_path)) return load_pickle_file(path + "/pytorch_model.bin", device, options, pickle);
  } else if (!absl::EndsWith(path, ".index.json")) {
    return load_pickle_file(path, device, options, pickle);
  }
  IndexOptions index_options;
  index_options.shard_extension = ".bin";
  SAFETENSORS_ASSIGN_OR_RETURN(const CheckpointIndex index, ReadCheckpointIndex(index_path, index_options));
  const std::string dir = DirectoryOf(index_path) + "/";
  // Each shard must hold exactly the tensors weight_map gives it.
  std::vector<std::set<std::string>> listed(index.shards().size());
  for (const CheckpointIndex::Entry& entry : index.weight_map()) listed[entry.shard].emplace(entry.tensor);
  TensorDict result;
  for (size_t i = 0; i < index.shards().size(); ++i) {
    const std::string& shard = index.shards()[i];
    absl::StatusOr<TensorDict> tensors = load_pickle_file(dir + shard, device, options, pickle);
    if (!tensors.ok()) return AddContext(tensors.status(), absl::StrCat("shard ", QuoteForMessage(shard)));
    std::set<std::string> held;
    for (const auto& item : *tensors) held.insert(item.key());
    for (const auto& item : *tensors) {
      if (listed[i].count(item.key()) == 0) {
        return MakeError(ErrorCode::kUnlistedTensor,
                         absl::StrCat("shard ", QuoteForMessage(shard), " holds tensor ",
                                      QuoteForMessage(item.key()), ", which weight_map does not list"));
      }
      if (result.contains(item.key())) {
        return MakeError(ErrorCode::kTensorInTwoShards,
                         absl::StrCat("tensor ", QuoteForMessage(item.key()), " is in two shards"));
      }
      result.insert(item.key(), item.value());
    }
    if (options.tensor_filter.empty()) {  // a filter leaves listed names out
      for (const std::string& name : listed[i]) {
        if (held.count(name) == 0) {
          return MakeError(ErrorCode::kTensorNotInShard,
                           absl::StrCat("weight_map gives tensor ", QuoteForMessage(name), " to shard ",
                                        QuoteForMessage(shard), ", which lacks it"));
        }
      }
    }
  }
  return result;
}

}  // namespace safetensors
