#include "io/pickle_file.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "parser/error.h"
#include "parser/status_macros.h"

namespace safetensors {

absl::StatusOr<PickleCheckpointFile> OpenPickleCheckpoint(const std::string& path,
                                                          const PickleCheckpointOptions& options) {
  PickleCheckpointFile result;
  SAFETENSORS_ASSIGN_OR_RETURN(result.file, File::Open(path));
  SAFETENSORS_ASSIGN_OR_RETURN(result.mapping, Mapping::Map(*result.file));
  SAFETENSORS_ASSIGN_OR_RETURN(result.table, ParsePickleCheckpoint(result.mapping->bytes(), options));
  return result;
}

absl::StatusOr<bool> IsPickleCheckpointFile(const std::string& path) {
  SAFETENSORS_ASSIGN_OR_RETURN(const std::shared_ptr<File> file, File::Open(path));
  uint8_t start[16] = {};
  const size_t size = static_cast<size_t>(std::min<uint64_t>(file->size(), sizeof start));
  SAFETENSORS_RETURN_IF_ERROR(file->ReadAt(0, absl::MakeSpan(start, size)));
  return LooksLikePickleCheckpoint(absl::MakeConstSpan(start, size));
}

}  // namespace safetensors
