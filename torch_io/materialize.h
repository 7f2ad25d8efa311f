// Turning a validated TensorInfo into an at::Tensor: allocation, copies from
// bytes in memory, zero-copy views of a mapping, and the move to a device.
// Every tensor torch_io returns is made here. Internal to torch_io.
#ifndef SAFETENSORS_TORCH_IO_MATERIALIZE_H_
#define SAFETENSORS_TORCH_IO_MATERIALIZE_H_

#include <cstdint>
#include <string>

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "parser/tensor_info.h"
#include "torch_io/open_file.h"
#include "torch_io/types.h"

namespace safetensors {
namespace internal {

// The tensor's memory as bytes.
absl::Span<uint8_t> BytesOf(const at::Tensor& tensor);

// An uninitialized CPU tensor with `t`'s dtype and shape, for a load to
// fill. From 2 MiB on, its memory is a mapping of its own, 2 MiB-aligned and
// marked for transparent huge pages (a fill then faults once per 2 MiB, not
// per 4 KiB); it is unmapped with the last tensor using it.
// Errors: kUnsupportedDtype, kInvalidTensor (dtype_map.h), kOutOfMemory.
absl::StatusOr<at::Tensor> AllocateTensor(const TensorInfo& t);

// A new tensor for a bulk read, and the memory that read may overwrite
// around it (ReadPlan::AddInWindow). With `direct` and from 2 MiB on, the
// tensor's data sit at the place of `file_offset` modulo
// kDirectReadAlignment in a window of whole blocks (a mapping of its own, as
// AllocateTensor's), so that direct reads can fill it, unless that place
// breaks its dtype's alignment; otherwise it is AllocateTensor's and the
// window is its bytes. Errors: as AllocateTensor.
struct TensorToFill {
  at::Tensor tensor;
  absl::Span<uint8_t> window;
};
absl::StatusOr<TensorToFill> AllocateTensorToFill(const TensorInfo& t, uint64_t file_offset,
                                                  bool direct);

// A CPU tensor that owns a copy of `bytes`, which must be t.num_bytes() long.
// Errors: as AllocateTensor.
absl::StatusOr<at::Tensor> CopyToNewTensor(const TensorInfo& t, absl::Span<const uint8_t> bytes);

// The whole tensor `t` of `f` as a CPU tensor: a view of the mapping when it
// is aligned for its dtype, else a copy; or, for pread, filled by a read.
// Errors: as AllocateTensor, and kIoError.
absl::StatusOr<at::Tensor> MaterializeOnCpu(const OpenFile& f, const TensorInfo& t);

// A file of a whole load, and what prefixes its errors (a shard's name).
struct FileToLoad {
  const OpenFile* file;
  std::string context;
};

// Every selected tensor of each file, by file then offset, on each file's
// device: get_tensors of one file or of a whole checkpoint. The pread
// backend's reads of all files run as one plan on options.threads threads;
// the mmap backend's tensors are views. Reports to the first file's
// options.progress. Errors: as MaterializeOnCpu and ToDevice, the failing
// file's context first.
absl::StatusOr<TensorDict> MaterializeAll(absl::Span<const FileToLoad> files);

// `cpu` itself for a CPU device, else a copy on `device`.
// Errors: kBadArgument (LibTorch refused the device), kOutOfMemory.
absl::StatusOr<at::Tensor> ToDevice(at::Tensor cpu, const c10::Device& device);

}  // namespace internal
}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_MATERIALIZE_H_
