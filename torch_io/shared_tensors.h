// Which tensors of a dictionary share memory, and which names a writer
// keeps: the areas of at::Tensors handed to the one home of the reference's
// rules, parser/shared_storage.h. What save refuses and what
// save_model/load_model and checkpoints deduplicate. Internal to torch_io.
#ifndef SAFETENSORS_TORCH_IO_SHARED_TENSORS_H_
#define SAFETENSORS_TORCH_IO_SHARED_TENSORS_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "parser/shared_storage.h"

#include "torch_io/types.h"

namespace safetensors {
namespace internal {

// The names in each group of tensors whose memory overlaps: same device and
// storage, then overlapping byte ranges. Groups of one are included; groups
// are sorted by their first name, names within a group sorted.
std::vector<std::vector<std::string>> FindSharedTensors(const TensorDict& tensors);

// The reference's _remove_duplicate_names: for each shared group, the name to
// keep and the sorted names to drop (ChooseNamesToRemove). huggingface_hub's
// version also takes `discard_names`: names kept only when every complete
// name of their group is one.
absl::StatusOr<std::map<std::string, std::vector<std::string>>> RemoveDuplicateNames(
    const TensorDict& state, const std::set<std::string>& preferred_names = {},
    const std::set<std::string>& discard_names = {});

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
