#include "torch_io/shared_tensors.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <tuple>

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

}  // namespace

std::vector<std::vector<std::string>> FindSharedTensors(const TensorDict& tensors) {
  // Tensors grouped by storage, as the reference keys them.
  std::map<std::tuple<std::string, uintptr_t, size_t>, std::vector<const TensorDict::Item*>>
      by_storage;
  for (const auto& item : tensors) {
    const at::Tensor& t = item.value();
    if (!t.defined() || !t.has_storage() || t.is_meta()) continue;
    const uintptr_t storage = reinterpret_cast<uintptr_t>(t.storage().data());
    const size_t bytes = t.storage().nbytes();
    if (storage == 0 || bytes == 0) continue;
    by_storage[{t.device().str(), storage, bytes}].push_back(&item);
  }
  // Within one storage, only tensors whose byte ranges overlap are shared.
  std::vector<std::vector<std::string>> groups;
  for (auto& [key, items] : by_storage) {
    std::vector<std::tuple<uintptr_t, uintptr_t, std::string>> areas;
    for (const TensorDict::Item* item : items) {
      areas.emplace_back(reinterpret_cast<uintptr_t>(item->value().data_ptr()),
                         EndAddress(item->value()), item->key());
    }
    std::sort(areas.begin(), areas.end());
    uintptr_t last_stop = std::get<1>(areas[0]);
    groups.push_back({std::get<2>(areas[0])});
    for (size_t i = 1; i < areas.size(); ++i) {
      const auto& [start, stop, name] = areas[i];
      if (start >= last_stop) {
        groups.push_back({name});
      } else {
        groups.back().push_back(name);
      }
      last_stop = stop;
    }
  }
  for (auto& group : groups) std::sort(group.begin(), group.end());
  std::sort(groups.begin(), groups.end());
  return groups;
}

bool CoversWholeStorage(const at::Tensor& t) {
  return t.data_ptr() == t.storage().data() &&
         t.nbytes() == t.storage().nbytes();
}

}  // namespace internal
}  // namespace safetensors
