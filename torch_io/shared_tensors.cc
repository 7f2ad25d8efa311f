#include "torch_io/shared_tensors.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <vector>

namespace safetensors {
namespace internal {
namespace {

// First byte past the last element (positive strides, as PyTorch tensors
// from modules have); the start for an empty tensor.
uintptr_t EndAddress(const at::Tensor& t) {
  const uintptr_t start = reinterpret_cast<uintptr_t>(t.data_ptr());
  if (t.numel() == 0) return start;
  int64_t last = 0;
  for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
  return start + static_cast<uintptr_t>(last + 1) * static_cast<uintptr_t>(t.element_size());
}

// The areas of every tensor that has memory (undefined, meta and
// empty-storage tensors share none), in `tensors`' order. Storages are keyed
// as the reference keys them (device, storage pointer, storage bytes), then
// numbered.
std::vector<StorageArea> AreasOf(const TensorDict& tensors) {
  std::map<std::tuple<int, int, uintptr_t, size_t>, uint64_t> storage_ids;
  std::vector<StorageArea> areas;
  areas.reserve(tensors.size());
  for (const auto& item : tensors) {
    const at::Tensor& t = item.value();
    if (!t.defined() || !t.has_storage() || t.is_meta()) continue;
    const uintptr_t storage = reinterpret_cast<uintptr_t>(t.storage().data());
    const size_t bytes = t.storage().nbytes();
    if (storage == 0 || bytes == 0) continue;
    const auto key = std::make_tuple(static_cast<int>(t.device().type()), int{t.device().index()}, storage, bytes);
    const uint64_t id = storage_ids.emplace(key, storage_ids.size()).first->second;
    const uintptr_t start = reinterpret_cast<uintptr_t>(t.data_ptr()) - storage;
    areas.push_back(StorageArea{id, start, start + (EndAddress(t) - reinterpret_cast<uintptr_t>(t.data_ptr())),
                                CoversWholeStorage(t), item.key()});
  }
  return areas;
}

}  // namespace

std::vector<std::vector<std::string>> FindSharedTensors(const TensorDict& tensors) {
  return FindSharedGroups(AreasOf(tensors));
}

absl::StatusOr<std::map<std::string, std::vector<std::string>>> RemoveDuplicateNames(
    const TensorDict& state, const std::set<std::string>& preferred_names,
    const std::set<std::string>& discard_names) {
  if (EachTensorOwnsItsStorage(state)) return std::map<std::string, std::vector<std::string>>();
  const std::vector<StorageArea> areas = AreasOf(state);
  return ChooseNamesToRemove(FindSharedGroups(areas), areas, preferred_names, discard_names);
}

bool CoversWholeStorage(const at::Tensor& t) {
  return t.data_ptr() == t.storage().data() &&
         t.nbytes() == t.storage().nbytes();
}

bool EachTensorOwnsItsStorage(const TensorDict& tensors) {
  std::vector<StorageArea> areas = AreasOf(tensors);
  for (const StorageArea& area : areas) {
    if (!area.whole_storage) return false;
  }
  std::sort(areas.begin(), areas.end(),
            [](const StorageArea& a, const StorageArea& b) { return a.storage < b.storage; });
  return std::adjacent_find(areas.begin(), areas.end(), [](const StorageArea& a, const StorageArea& b) {
           return a.storage == b.storage;
         }) == areas.end();
}

}  // namespace internal
}  // namespace safetensors
