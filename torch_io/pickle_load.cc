#include "torch_io/pickle_load.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <c10/core/ScalarType.h>

#include "absl/strings/str_cat.h"
#include "io/file.h"
#include "io/direct_read.h"
#include "io/parallel_read.h"
#include "io/pickle_file.h"
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

// The storage as a 1-D tensor the shape of its elements, for the parts of
// torch_io that allocate and check tensors.
TensorInfo StorageInfo(const PickleStorage& storage, const uint64_t* numel) {
  return TensorInfo{storage.key, storage.dtype, absl::MakeConstSpan(numel, 1), 0, storage.byte_size};
}

// The storage as a zero-copy view of the mapping, when that is safe: its
// elements little-endian and aligned for their dtype. nullopt otherwise.
absl::StatusOr<std::optional<at::Tensor>> MapStorage(const PickleCheckpointFile& f, const PickleStorage& storage) {
  const size_t element_size = static_cast<size_t>(DtypeBits(storage.dtype) / 8);
  const absl::Span<uint8_t> mapped =
      f.mapping->bytes().subspan(static_cast<size_t>(storage.byte_offset), static_cast<size_t>(storage.byte_size));
  if (f.table.big_endian || mapped.empty() || reinterpret_cast<uintptr_t>(mapped.data()) % element_size != 0) {
    return std::optional<at::Tensor>();
  }
  SAFETENSORS_ASSIGN_OR_RETURN(const c10::ScalarType type, ToScalarType(storage.dtype, storage.key));
  std::shared_ptr<Mapping> keep = f.mapping;
  SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor view, CallTorch("wrapping mapped memory", [&] {
                                 return at::from_blob(mapped.data(), {static_cast<int64_t>(storage.numel)},
                                                      [keep](void*) {}, at::TensorOptions().dtype(type));
                               }));
  return std::optional<at::Tensor>(std::move(view));
}

// Every storage `needed` says, as 1-D CPU tensors of their dtype: views of
// the mapping where MapStorage can (mmap backend), the rest read into memory
// of their own by one plan of large reads on several threads, directly where
// options.direct_io allows (as load_file's pread backend reads), and
// byte-swapped when the file is big-endian.
absl::StatusOr<std::vector<at::Tensor>> LoadStorages(const PickleCheckpointFile& f, const std::vector<bool>& needed,
                                                     const LoadOptions& options, ReadProgressTracker& progress) {
  std::vector<at::Tensor> storages(f.table.storages.size());
  const std::unique_ptr<DirectReads> direct = options.backend == Backend::kPread
                                                  ? DirectReads::Open(*f.file, options.direct_io)
                                                  : nullptr;
  ReadPlan plan;
  std::vector<size_t> read;  // storages the plan fills
  for (size_t i = 0; i < storages.size(); ++i) {
    if (!needed[i]) continue;
    const PickleStorage& storage = f.table.storages[i];
    if (options.backend == Backend::kMmap) {
      SAFETENSORS_ASSIGN_OR_RETURN(std::optional<at::Tensor> view, MapStorage(f, storage));
      if (view.has_value()) {
        storages[i] = *std::move(view);
        progress.Add(storage.byte_size, 0);
        continue;
      }
    }
    const uint64_t numel = storage.numel;
    SAFETENSORS_ASSIGN_OR_RETURN(internal::TensorToFill fill,
                                 internal::AllocateTensorToFill(StorageInfo(storage, &numel), storage.byte_offset,
                                                                direct != nullptr));
    plan.AddInWindow(storage.byte_offset, internal::BytesOf(fill.tensor), fill.window, storage.key);
    storages[i] = std::move(fill.tensor);
    read.push_back(i);
  }
  const FileReadPlan reads[] = {{f.file.get(), &plan, {}, direct.get()}};
  SAFETENSORS_RETURN_IF_ERROR(ReadInParallel(reads, ThreadsForRead(options.threads, plan.bytes()), &progress));
  if (f.table.big_endian) {
    for (size_t i : read) {
      SwapElements(internal::BytesOf(storages[i]), static_cast<size_t>(DtypeBits(f.table.storages[i].dtype) / 8));
    }
  }
  return storages;
}

// The tensors `filter` selects of the opened file `f` (read from `path`),
// added to `result`.
absl::Status LoadOpened(const PickleCheckpointFile& f, const std::string& path, const c10::Device& target,
                        const internal::TensorFilter& filter, const LoadOptions& options, TensorDict& result) {
  std::vector<const PickleTensor*> selected;
  std::vector<bool> needed(f.table.storages.size(), false);
  uint64_t bytes_total = 0;
  for (const PickleTensor& t : f.table.tensors) {
    if (!filter.Selects(t.name)) continue;
    selected.push_back(&t);
    if (!needed[t.storage]) bytes_total += f.table.storages[t.storage].byte_size;
    needed[t.storage] = true;
  }
  // Storages are what is read; tensors are counted done with the last one.
  ReadProgressTracker progress(options.progress, bytes_total, selected.size());
  absl::StatusOr<std::vector<at::Tensor>> loaded = LoadStorages(f, needed, options, progress);
  if (!loaded.ok()) return AddContext(loaded.status(), QuoteForMessage(path));
  std::vector<at::Tensor>& storages = *loaded;
  if (!target.is_cpu()) {
    for (size_t i = 0; i < storages.size(); ++i) {
      if (!needed[i]) continue;
      SAFETENSORS_ASSIGN_OR_RETURN(storages[i], internal::ToDevice(storages[i], target));
    }
  }
  for (const PickleTensor* t : selected) {
    std::vector<int64_t> sizes(t->shape.begin(), t->shape.end());
    std::vector<int64_t> strides(t->strides.begin(), t->strides.end());
    // In range: the parser checked every extent against its storage.
    SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor view, CallTorch("viewing a storage", [&] {
                                   return storages[t->storage].as_strided(
                                       sizes, strides, static_cast<int64_t>(t->storage_offset));
                                 }));
    result.insert(t->name, std::move(view));
  }
  if (!selected.empty()) progress.Add(0, selected.size());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TensorDict> load_pickle_file(const std::string& path, const DeviceSpec& device,
                                            const LoadOptions& options, const PickleCheckpointOptions& pickle) {
  SAFETENSORS_ASSIGN_OR_RETURN(const c10::Device target, device.Resolve());
  SAFETENSORS_ASSIGN_OR_RETURN(const internal::TensorFilter filter,
                               internal::TensorFilter::Compile(options.tensor_filter));
  SAFETENSORS_ASSIGN_OR_RETURN(const PickleCheckpointFile f, OpenPickleCheckpoint(path, pickle));
  TensorDict result;
  SAFETENSORS_RETURN_IF_ERROR(LoadOpened(f, path, target, filter, options, result));
  return result;
}

absl::StatusOr<TensorDict> load_pickle_checkpoint(const std::string& path, const DeviceSpec& device,
                                                  const LoadOptions& options, const PickleCheckpointOptions& pickle) {
  const PickleCheckpointPath resolved = ResolvePickleCheckpointPath(path);
  if (!resolved.sharded) return load_pickle_file(resolved.path, device, options, pickle);
  SAFETENSORS_ASSIGN_OR_RETURN(const c10::Device target, device.Resolve());
  SAFETENSORS_ASSIGN_OR_RETURN(const internal::TensorFilter filter,
                               internal::TensorFilter::Compile(options.tensor_filter));
  // Every shard parsed and checked against the index before a byte is read.
  SAFETENSORS_ASSIGN_OR_RETURN(const ShardedPickleCheckpoint checkpoint,
                               OpenShardedPickleCheckpoint(resolved.path, pickle));
  TensorDict result;
  for (size_t i = 0; i < checkpoint.shards.size(); ++i) {
    const std::string& shard = checkpoint.index.shards()[i];
    const absl::Status status =
        LoadOpened(checkpoint.shards[i], checkpoint.directory + shard, target, filter, options, result);
    if (!status.ok()) return AddContext(status, absl::StrCat("shard ", QuoteForMessage(shard)));
  }
  return result;
}

}  // namespace safetensors
