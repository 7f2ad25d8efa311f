// Which tensors of a dictionary share memory, by the reference's rules
// (safetensors.torch's _find_shared_tensors and _is_complete): what save
// refuses and what save_model/load_model deduplicate. Internal to torch_io.
#ifndef SAFETENSORS_TORCH_IO_SHARED_TENSORS_H_
#define SAFETENSORS_TORCH_IO_SHARED_TENSORS_H_

#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "torch_io/types.h"

namespace safetensors {
namespace internal {

// The names in each group of tensors whose memory overlaps: same device and
// storage, then overlapping byte ranges. Groups of one are included; groups
// are sorted by their first name, names within a group sorted.
std::vector<std::vector<std::string>> FindSharedTensors(const TensorDict& tensors);

// Whether `tensor` covers its whole storage.
bool CoversWholeStorage(const at::Tensor& tensor);

// Whether every tensor of `tensors` with memory covers its whole storage and
// no two share one: FindSharedTensors would give only groups of one, each
// covering its storage, so there is nothing to deduplicate or refuse. The
// common case for a model's state dict, answered without copying a name.
bool EachTensorOwnsItsStorage(const TensorDict& tensors);

}  // namespace internal
}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_SHARED_TENSORS_H_
