#include "io/pickle_file.h"

#include <dirent.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/match.h"
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

namespace {

bool IsFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
}

bool HoldsSafetensors(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (const dirent* entry = ::readdir(d)) {
    if (absl::EndsWith(entry->d_name, ".safetensors") || absl::EndsWith(entry->d_name, ".safetensors.index.json")) {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

}  // namespace

bool IsPickleCheckpointPath(const std::string& path) {
  if (IsDirectory(path)) {
    return !HoldsSafetensors(path) &&
           (IsFile(absl::StrCat(path, "/", kPickleIndexName)) || IsFile(path + "/pytorch_model.bin"));
  }
  if (absl::EndsWith(path, kPickleIndexName)) return true;
  return IsPickleCheckpointFile(path).value_or(false);
}

absl::StatusOr<bool> IsPickleCheckpointFile(const std::string& path) {
  SAFETENSORS_ASSIGN_OR_RETURN(const std::shared_ptr<File> file, File::Open(path));
  uint8_t start[16] = {};
  const size_t size = static_cast<size_t>(std::min<uint64_t>(file->size(), sizeof start));
  SAFETENSORS_RETURN_IF_ERROR(file->ReadAt(0, absl::MakeSpan(start, size)));
  return LooksLikePickleCheckpoint(absl::MakeConstSpan(start, size));
}

}  // namespace safetensors
