// Which tensors share memory, and which names a writer keeps: the reference's
// rules (safetensors.torch's _find_shared_tensors, _filter_shared_not_shared,
// _is_complete and _remove_duplicate_names), in one place for every writer
// here. torch_io (save, save_model, checkpoints) feeds it the areas of
// at::Tensors; the torch-free conversion of pickle checkpoints
// (io/pickle_convert.h) the areas of its tables. No LibTorch.
//
//   std::vector<StorageArea> areas = {{0, 0, 96, true, "w"}, {0, 24, 48, false, "row"}};
//   auto removed = ChooseNamesToRemove(FindSharedGroups(areas), areas, {}, {});
//   // {"w": {"row"}}: write "w", drop "row" (and record "row" -> "w").
#ifndef SAFETENSORS_PARSER_SHARED_STORAGE_H_
#define SAFETENSORS_PARSER_SHARED_STORAGE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace safetensors {

// One tensor's place: which storage (any key that tells storages apart,
// device included), its byte range in that storage ([start, stop); stop ==
// start when it has no elements) and whether it covers the storage whole
// (starts at its first byte and has exactly its size). Tensors without memory
// (no storage, an empty storage, the meta device) have no area.
struct StorageArea {
  uint64_t storage = 0;
  uint64_t start = 0;
  uint64_t stop = 0;
  bool whole_storage = false;
  std::string name;
};

// The names in each group of areas that overlap: same storage, then each
// area (sorted by start, stop, name) joins the group of the one before it
// when it starts before that one stops. Groups of one are included; names in
// a group sorted, groups sorted by their first name.
std::vector<std::vector<std::string>> FindSharedGroups(absl::Span<const StorageArea> areas);

// For each group of more than one name, or of one name not covering its
// storage: the name kept (the first, in sorted order, covering its storage,
// preferring one of `preferred_names`, else one not in `discard_names`) and
// the others, to drop. Errors: kInvalidTensor, with the reference's message,
// when no name of a group covers its storage (saving would write memory no
// name accounts for).
absl::StatusOr<std::map<std::string, std::vector<std::string>>> ChooseNamesToRemove(
    const std::vector<std::vector<std::string>>& groups, absl::Span<const StorageArea> areas,
    const std::set<std::string>& preferred_names, const std::set<std::string>& discard_names);

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_SHARED_STORAGE_H_
