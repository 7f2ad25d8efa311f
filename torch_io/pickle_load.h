// torch.load(weights_only=True)'s job for state dicts, in C++ and without
// running anything: the tensors of a torch.save checkpoint
// (`pytorch_model.bin`, `*.pt`, `*.ckpt`), read as data by io/pickle_file.h.
//
//   absl::StatusOr<safetensors::TensorDict> tensors =
//       safetensors::load_pickle_file("pytorch_model.bin");
//
// Tensors that share a storage in the file (tied weights, slices, transposes)
// share one in the result, with the file's sizes, strides and storage
// offsets, as torch.load returns them. With the mmap backend a storage that
// is little-endian and aligned for its dtype (torch's zip records are
// 64-byte aligned) is a zero-copy view of a private mapping that lives as
// long as any tensor over it; anything else (legacy files, whose storages sit
// at any offset; big-endian files, byte-swapped here) is copied. The pread
// backend reads each storage into memory of its own.
#ifndef SAFETENSORS_TORCH_IO_PICKLE_LOAD_H_
#define SAFETENSORS_TORCH_IO_PICKLE_LOAD_H_

#include <string>

#include "absl/status/statusor.h"
#include "io/pickle_file.h"  // IWYU pragma: export (IsPickleCheckpointPath)
#include "parser/pickle_checkpoint.h"
#include "torch_io/device.h"
#include "torch_io/types.h"

namespace safetensors {

// Every tensor of the checkpoint at `path` (those options.tensor_filter
// selects), named as PickleCheckpoint names them, in pickle order, on
// `device`. options.backend, tensor_filter and progress apply; `pickle`
// chooses the dict tensors are named from and whether unknown globals are
// skipped. Storages no selected tensor uses are not read.
// Errors: OpenPickleCheckpoint's (io/pickle_file.h); kUnsupportedDtype,
// kInvalidTensor (a dtype the linked LibTorch lacks); kBadArgument (filter,
// device); kIoError, kFileTruncated; kOutOfMemory.
absl::StatusOr<TensorDict> load_pickle_file(const std::string& path, const DeviceSpec& device = "cpu",
                                            const LoadOptions& options = {},
                                            const PickleCheckpointOptions& pickle = {});

// A whole torch.save checkpoint: `path` is a pytorch_model.bin.index.json, a
// directory holding one (its shards, named by weight_map, resolved as a
// safetensors checkpoint's are: plain file names in the index's directory),
// a directory holding pytorch_model.bin, or one file. Every tensor, shard by
// shard in the index's order. Errors: load_pickle_file's, naming the shard;
// the index reader's (kInvalidShardName, kIndexTooLarge...); kTensorNotInShard
// when a shard lacks a tensor weight_map gives it, kUnlistedTensor when it
// holds one weight_map does not list, kTensorInTwoShards.
absl::StatusOr<TensorDict> load_pickle_checkpoint(const std::string& path, const DeviceSpec& device = "cpu",
                                                  const LoadOptions& options = {},
                                                  const PickleCheckpointOptions& pickle = {});

}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_PICKLE_LOAD_H_
