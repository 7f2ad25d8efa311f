#include "parser/shared_storage.h"

#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "parser/error.h"

namespace safetensors {

std::vector<std::vector<std::string>> FindSharedGroups(absl::Span<const StorageArea> areas) {
  std::vector<const StorageArea*> sorted;
  sorted.reserve(areas.size());
  for (const StorageArea& area : areas) sorted.push_back(&area);
  std::sort(sorted.begin(), sorted.end(), [](const StorageArea* a, const StorageArea* b) {
    return std::tie(a->storage, a->start, a->stop, a->name) < std::tie(b->storage, b->start, b->stop, b->name);
  });
  // Within one storage, only areas overlapping the previous one's range are
  // shared (the reference compares with the previous area's stop, not the
  // furthest stop so far).
  std::vector<std::vector<std::string>> groups;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const bool same_storage = i > 0 && sorted[i]->storage == sorted[i - 1]->storage;
    if (same_storage && sorted[i]->start < sorted[i - 1]->stop) {
      groups.back().push_back(sorted[i]->name);
    } else {
      groups.push_back({sorted[i]->name});
    }
  }
  for (auto& group : groups) std::sort(group.begin(), group.end());
  std::sort(groups.begin(), groups.end());
  return groups;
}

absl::StatusOr<std::map<std::string, std::vector<std::string>>> ChooseNamesToRemove(
    const std::vector<std::vector<std::string>>& groups, absl::Span<const StorageArea> areas,
    const std::set<std::string>& preferred_names, const std::set<std::string>& discard_names) {
  absl::flat_hash_map<absl::string_view, bool> whole;
  for (const StorageArea& area : areas) whole[area.name] = area.whole_storage;
  std::map<std::string, std::vector<std::string>> to_remove;
  for (const std::vector<std::string>& shared : groups) {
    // Nearly every group is one tensor that covers its storage: nothing to do.
    if (shared.size() == 1 && whole[shared[0]]) continue;
    std::vector<std::string> complete;  // sorted, as `shared` is
    for (const std::string& name : shared) {
      if (whole[name]) complete.push_back(name);
    }
    if (complete.empty()) {
      return MakeError(
          ErrorCode::kInvalidTensor,
          absl::StrCat("Error while trying to find names to remove to save state dict, but "
                       "found no suitable name to keep for saving amongst: {",
                       absl::StrJoin(shared, ", "),
                       "}. None is covering the entire storage.Refusing to save/load the "
                       "model since you could be storing much more memory than needed. "
                       "Please refer to https://huggingface.co/docs/safetensors/"
                       "torch_shared_tensors for more information. Or open an issue."));
    }
    std::string keep = complete.front();
    for (const std::string& name : complete) {
      if (discard_names.count(name) == 0) {
        keep = name;  // the first complete name not to be discarded
        break;
      }
    }
    for (const std::string& name : complete) {
      if (preferred_names.count(name) != 0) {
        keep = name;  // the first complete name the file has
        break;
      }
    }
    for (const std::string& name : shared) {
      if (name != keep) to_remove[keep].push_back(name);
    }
  }
  return to_remove;
}

}  // namespace safetensors
