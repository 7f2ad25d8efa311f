// Writing model.safetensors.index.json exactly as huggingface_hub writes it
// (Python's json.dump(index, f, indent=2): two-space indent, ", " never at a
// line end, ": " after keys, every non-ASCII character and DEL as a \uXXXX
// escape, no trailing newline), so that a checkpoint we save is byte-identical
// to one save_torch_state_dict saves.
//
//   std::string text = SerializeCheckpointIndex(
//       {{"total_size", "96", /*is_number=*/true}}, {{"w", "model-00001-of-00002.safetensors"}});
#ifndef SAFETENSORS_PARSER_CHECKPOINT_INDEX_WRITER_H_
#define SAFETENSORS_PARSER_CHECKPOINT_INDEX_WRITER_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "parser/checkpoint_index.h"

namespace safetensors {

// {"metadata": {...}, "weight_map": {...}} in the given orders. A metadata
// number's value is written as its text; strings are quoted.
// Errors: kBadArgument for a key or value that is not valid UTF-8, or a
// "number" whose text is not a JSON number.
// `indent` spaces per level: 2 as huggingface_hub writes, 4 as the
// reference's convert.py does.
absl::StatusOr<std::string> SerializeCheckpointIndex(
    absl::Span<const IndexMetadataEntry> metadata,
    absl::Span<const std::pair<std::string, std::string>> weight_map, int indent = 2);

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_CHECKPOINT_INDEX_WRITER_H_
