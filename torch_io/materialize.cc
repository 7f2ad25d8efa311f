#include "torch_io/materialize.h"

#include <cstring>
#include <memory>

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>

#include "parser/status_macros.h"
#include "torch_io/dtype_map.h"
#include "torch_io/torch_errors.h"

namespace safetensors {
namespace internal {

absl::Span<uint8_t> BytesOf(const at::Tensor& tensor) {
  return absl::Span<uint8_t>(static_cast<uint8_t*>(tensor.data_ptr()), tensor.nbytes());
}

absl::StatusOr<at::Tensor> AllocateTensor(const TensorInfo& t) {
  SAFETENSORS_ASSIGN_OR_RETURN(TorchLayout layout, ToTorchLayout(t));
  return CallTorch("allocating a tensor", [&] {
    return at::empty(layout.sizes, at::TensorOptions().dtype(layout.type));
  });
}

absl::StatusOr<at::Tensor> CopyToNewTensor(const TensorInfo& t,
                                           absl::Span<const uint8_t> bytes) {
  SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor tensor, AllocateTensor(t));
  if (!bytes.empty()) std::memcpy(tensor.data_ptr(), bytes.data(), bytes.size());
  return tensor;
}

absl::StatusOr<at::Tensor> MaterializeOnCpu(const OpenFile& f, const TensorInfo& t, bool read) {
  if (f.mapping != nullptr) {
    // In range: ParseHeader checked that every tensor lies in the file.
    const absl::Span<uint8_t> bytes = f.mapping->bytes().subspan(f.FileOffset(t), t.num_bytes());
    SAFETENSORS_ASSIGN_OR_RETURN(TorchLayout layout, ToTorchLayout(t));
    // Misaligned for its dtype (odd header lengths do this): copy rather than
    // hand out a pointer LibTorch would read misaligned.
    if (bytes.empty() ||
        reinterpret_cast<uintptr_t>(bytes.data()) % c10::elementSize(layout.type) != 0) {
      return CopyToNewTensor(t, bytes);
    }
    std::shared_ptr<Mapping> keep = f.mapping;
    return CallTorch("wrapping mapped memory", [&] {
      return at::from_blob(bytes.data(), layout.sizes, [keep](void*) {},
                           at::TensorOptions().dtype(layout.type));
    });
  }
  SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor tensor, AllocateTensor(t));
  if (read) SAFETENSORS_RETURN_IF_ERROR(f.file->ReadAt(f.FileOffset(t), BytesOf(tensor)));
  return tensor;
}

absl::StatusOr<at::Tensor> ToDevice(at::Tensor cpu, const c10::Device& device) {
  if (device.is_cpu()) return cpu;
  return CallTorch("moving a tensor to " + device.str(), [&] { return cpu.to(device); });
}

}  // namespace internal
}  // namespace safetensors
