#include "torch_io/shared_tensors.h"

#include <algorithm>
#include <cstdint>
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

// A tensor's place in memory: its storage (as the reference keys storages:
// device, storage pointer, storage bytes), its byte range, and whether it
// covers that storage whole.
struct Area {
  std::tuple<int, int, uintptr_t, size_t> storage;
  uintptr_t start;
  uintptr_t stop;
  bool whole_storage;
  const std::string* name;
};

// One area per tensor that has memory (undefined, meta and empty-storage
// tensors share none), in `tensors`' order.
std::vector<Area> AreasOf(const TensorDict& tensors) {
  std::vector<Area> areas;
  areas.reserve(tensors.size());
  for (const auto& item : tensors) {
    const at::Tensor& t = item.value();
    if (!t.defined() || !t.has_storage() || t.is_meta()) continue;
    const uintptr_t storage = reinterpret_cast<uintptr_t>(t.storage().data());
    const size_t bytes = t.storage().nbytes();
    if (storage == 0 || bytes == 0) continue;
    areas.push_back(Area{{static_cast<int>(t.device().type()), t.device().index(), storage, bytes},
                         reinterpret_cast<uintptr_t>(t.data_ptr()),
                         EndAddress(t),
                         CoversWholeStorage(t),
                         &item.key()});
  }
  return areas;
}

}  // namespace

std::vector<std::vector<std::string>> FindSharedTensors(const TensorDict& tensors) {
  // Sorted by storage, then by byte range and name.
  std::vector<Area> areas = AreasOf(tensors);
  std::sort(areas.begin(), areas.end(), [](const Area& a, const Area& b) {
    return std::tie(a.storage, a.start, a.stop, *a.name) <
           std::tie(b.storage, b.start, b.stop, *b.name);
  });
  // Within one storage, only tensors whose byte ranges overlap the previous
  // one's are shared (the reference's _filter_shared_not_shared).
  std::vector<std::vector<std::string>> groups;
  for (size_t i = 0; i < areas.size(); ++i) {
    const bool same_storage = i > 0 && areas[i].storage == areas[i - 1].storage;
    if (same_storage && areas[i].start < areas[i - 1].stop) {
      groups.back().push_back(*areas[i].name);
    } else {
      groups.push_back({*areas[i].name});
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

bool EachTensorOwnsItsStorage(const TensorDict& tensors) {
  std::vector<Area> areas = AreasOf(tensors);
  for (const Area& area : areas) {
    if (!area.whole_storage) return false;
  }
  std::sort(areas.begin(), areas.end(),
            [](const Area& a, const Area& b) { return a.storage < b.storage; });
  return std::adjacent_find(areas.begin(), areas.end(), [](const Area& a, const Area& b) {
           return a.storage == b.storage;
         }) == areas.end();
}

}  // namespace internal
}  // namespace safetensors
