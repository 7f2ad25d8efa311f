// Reading a torch.save checkpoint from disk as data, without LibTorch: what
// `safetensors check`/`inspect` and the torch layer's pickle loader share.
// The file is opened as every untrusted path here is (io/file.h: without
// blocking, regular files only) and mapped; the parser
// (parser/pickle_checkpoint.h) reads only the zip directory, the local
// headers and the pickle from the mapping, so a 10 GB checkpoint costs its
// directory, not its size.
//
//   absl::StatusOr<PickleCheckpointFile> f = OpenPickleCheckpoint("pytorch_model.bin", {});
//   for (const PickleTensor& t : f->table.tensors) ...
#ifndef SAFETENSORS_IO_PICKLE_FILE_H_
#define SAFETENSORS_IO_PICKLE_FILE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "io/file.h"
#include "parser/pickle_checkpoint.h"

namespace safetensors {

struct PickleCheckpointFile {
  std::shared_ptr<File> file;
  // The whole file, mapped copy-on-write; storages' bytes are read from it
  // (or from `file` with positioned reads). Like every mapping, touching
  // pages a later truncation removed raises SIGBUS.
  std::shared_ptr<Mapping> mapping;
  PickleCheckpoint table;
};

// Opens, maps and parses `path`. Errors: File::Open's and Mapping::Map's
// (naming the path); every ParsePickleCheckpoint error (naming the rule and
// byte offset: the caller knows which file it asked for).
absl::StatusOr<PickleCheckpointFile> OpenPickleCheckpoint(const std::string& path,
                                                          const PickleCheckpointOptions& options);

// The index of a sharded torch.save checkpoint (transformers'
// save_pretrained(safe_serialization=False)).
inline constexpr char kPickleIndexName[] = "pytorch_model.bin.index.json";

// Whether `path` is a torch.save checkpoint: a file that starts as
// torch.save output, a pytorch_model.bin.index.json, or a directory holding
// one or pytorch_model.bin and no .safetensors file.
bool IsPickleCheckpointPath(const std::string& path);

// Whether the file at `path` starts as a torch.save file does (reads its
// first bytes; a shorter file is not one). Errors: File::Open's, kIoError.
absl::StatusOr<bool> IsPickleCheckpointFile(const std::string& path);

}  // namespace safetensors

#endif  // SAFETENSORS_IO_PICKLE_FILE_H_
