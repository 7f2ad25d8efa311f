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

// One file's part of a load: the tensors the filter selects, and the
// storages they need as 1-D CPU tensors of their dtype (undefined where not
// needed): views of the mapping where MapStorage can (mmap backend), else
// memory of their own that `plan` fills.
struct FileLoad {
  const PickleCheckpointFile* f = nullptr;
  std::vector<const PickleTensor*> selected;
  std::vector<bool> needed;
  uint64_t bytes = 0;  // of the needed storages
  std::vector<at::Tensor> storages;
  ReadPlan plan;
  std::vector<size_t> read;  // storages the plan fills
  std::unique_ptr<DirectReads> direct;
};

FileLoad Select(const PickleCheckpointFile& f, const internal::TensorFilter& filter) {
  FileLoad load;
  load.f = &f;
  load.needed.assign(f.table.storages.size(), false);
  for (const PickleTensor& t : f.table.tensors) {
    if (!filter.Selects(t.name)) continue;
    load.selected.push_back(&t);
    if (!load.needed[t.storage]) load.bytes += f.table.storages[t.storage].byte_size;
    load.needed[t.storage] = true;
  }
  return load;
}

// Maps or allocates every needed storage and plans the reads: large reads,
// directly where options.direct_io allows, as load_file's pread backend does.
absl::Status Plan(FileLoad& load, const LoadOptions& options, ReadProgressTracker& progress) {
  const PickleCheckpointFile& f = *load.f;
  load.storages.resize(f.table.storages.size());
  if (options.backend == Backend::kPread) load.direct = DirectReads::Open(*f.file, options.direct_io);
  for (size_t i = 0; i < load.storages.size(); ++i) {
    if (!load.needed[i]) continue;
    const PickleStorage& storage = f.table.storages[i];
    if (options.backend == Backend::kMmap) {
      SAFETENSORS_ASSIGN_OR_RETURN(std::optional<at::Tensor> view, MapStorage(f, storage));
      if (view.has_value()) {
        load.storages[i] = *std::move(view);
        progress.Add(storage.byte_size, 0);
        continue;
      }
    }
    const uint64_t numel = storage.numel;
    SAFETENSORS_ASSIGN_OR_RETURN(internal::TensorToFill fill,
                                 internal::AllocateTensorToFill(StorageInfo(storage, &numel), storage.byte_offset,
                                                                load.direct != nullptr));
    load.plan.AddInWindow(storage.byte_offset, internal::BytesOf(fill.tensor), fill.window, storage.key);
    load.storages[i] = std::move(fill.tensor);
    load.read.push_back(i);
  }
  return absl::OkStatus();
}

// Loads the selected tensors of every file into `result`: every storage
// planned first, then all files' reads run as one plan on several threads
// (the shards of a checkpoint overlap instead of waiting for each other),
// then big-endian storages swapped, moved to `target`, and viewed as the
// tensors.
absl::Status LoadAll(std::vector<FileLoad>& loads, const c10::Device& target, const LoadOptions& options,
                     TensorDict& result) {
  uint64_t bytes_total = 0, tensors_total = 0;
  for (const FileLoad& load : loads) {
    bytes_total += load.bytes;
    tensors_total += load.selected.size();
  }
  ReadProgressTracker progress(options.progress, bytes_total, tensors_total);
  std::vector<FileReadPlan> reads;
  uint64_t read_bytes = 0;
  for (FileLoad& load : loads) {
    const absl::Status planned = Plan(load, options, progress);
    if (!planned.ok()) return AddContext(planned, QuoteForMessage(load.f->file->path()));
    if (load.read.empty()) continue;
    reads.push_back({load.f->file.get(), &load.plan, {}, load.direct.get()});
    read_bytes += load.plan.bytes();
  }
  SAFETENSORS_RETURN_IF_ERROR(ReadInParallel(reads, ThreadsForRead(options.threads, read_bytes), &progress));
  for (FileLoad& load : loads) {
    const PickleCheckpoint& table = load.f->table;
    std::vector<at::Tensor>& storages = load.storages;
    if (table.big_endian) {
      for (size_t i : load.read) {
        SwapElements(internal::BytesOf(storages[i]), static_cast<size_t>(DtypeBits(table.storages[i].dtype) / 8));
      }
    }
    if (!target.is_cpu()) {
      for (size_t i = 0; i < storages.size(); ++i) {
        if (!load.needed[i]) continue;
        SAFETENSORS_ASSIGN_OR_RETURN(storages[i], internal::ToDevice(storages[i], target));
      }
    }
    for (const PickleTensor* t : load.selected) {
      std::vector<int64_t> sizes(t->shape.begin(), t->shape.end());
      std::vector<int64_t> strides(t->strides.begin(), t->strides.end());
      // In range: the parser checked every extent against its storage.
      SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor view, CallTorch("viewing a storage", [&] {
                                     return storages[t->storage].as_strided(
                                         sizes, strides, static_cast<int64_t>(t->storage_offset));
                                   }));
      result.insert(t->name, std::move(view));
    }
  }
  // The read counted one done per storage it filled (its items); the rest
  // of the tensors are done now (every needed storage has a tensor).
  uint64_t counted = 0;
  for (const FileLoad& load : loads) counted += load.read.size();
  if (tensors_total > 0) progress.Add(0, tensors_total - counted);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TensorDict> load_pickle_file(const std::string& path, const DeviceSpec& device,
                                            const LoadOptions& options, const PickleCheckpointOptions& pickle) {
  SAFETENSORS_ASSIGN_OR_RETURN(const c10::Device target, device.Resolve());
  SAFETENSORS_ASSIGN_OR_RETURN(const internal::TensorFilter filter,
                               internal::TensorFilter::Compile(options.tensor_filter));
  SAFETENSORS_ASSIGN_OR_RETURN(const PickleCheckpointFile f, OpenPickleCheckpoint(path, pickle));
  std::vector<FileLoad> loads;
  loads.push_back(Select(f, filter));
  TensorDict result;
  SAFETENSORS_RETURN_IF_ERROR(LoadAll(loads, target, options, result));
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
  std::vector<FileLoad> loads;
  for (const PickleCheckpointFile& shard : checkpoint.shards) loads.push_back(Select(shard, filter));
  TensorDict result;
  SAFETENSORS_RETURN_IF_ERROR(LoadAll(loads, target, options, result));
  return result;
}

}  // namespace safetensors
