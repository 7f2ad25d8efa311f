#include "io/pickle_file.h"

#include <sys/mman.h>
#include <unistd.h>

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
  // The zip reader reads one local header per entry, scattered through the
  // file: cold, each would be a fault waiting for its own disk read. Asked
  // for all at once, they are read together.
  const absl::Span<uint8_t> bytes = result.mapping->bytes();
  PickleCheckpointOptions with_hints = options;
  with_hints.will_read = [bytes](uint64_t offset, uint64_t length) {
    const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    const uint64_t begin = offset / page * page;
    if (begin >= bytes.size()) return;
    const uint64_t end = std::min<uint64_t>(bytes.size(), offset + length);
    ::madvise(bytes.data() + begin, static_cast<size_t>(end - begin), MADV_WILLNEED);
  };
  SAFETENSORS_ASSIGN_OR_RETURN(result.table, ParsePickleCheckpoint(bytes, with_hints));
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
