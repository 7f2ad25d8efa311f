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
#include <vector>

#include "absl/status/statusor.h"
#include "io/file.h"
#include "parser/checkpoint_index.h"
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

// A path a user gives for a torch.save checkpoint, resolved as transformers
// resolves a model directory: a directory means its
// pytorch_model.bin.index.json when it has one, else its pytorch_model.bin;
// a path ending in ".index.json" is an index; any other path one file.
// Nothing is opened but the directory's entries.
struct PickleCheckpointPath {
  std::string path;      // the file, or the index
  bool sharded = false;  // `path` is an index
};
PickleCheckpointPath ResolvePickleCheckpointPath(const std::string& path);

// A sharded torch.save checkpoint, opened whole before any tensor is read:
// the index and every shard it names, each parsed, and checked against each
// other as a safetensors checkpoint's are: every shard holds exactly the
// tensors weight_map gives it, no tensor is in two shards.
struct ShardedPickleCheckpoint {
  std::string directory;  // the index's, ending in '/'
  CheckpointIndex index;  // its shard names end in ".bin"
  std::vector<PickleCheckpointFile> shards;  // as index.shards() orders them
};

// Errors: ReadCheckpointIndex's; the first shard's OpenPickleCheckpoint error
// (naming the shard); kTensorInTwoShards, kUnlistedTensor and
// kTensorNotInShard, naming the tensor and the shards.
absl::StatusOr<ShardedPickleCheckpoint> OpenShardedPickleCheckpoint(const std::string& index_path,
                                                                    const PickleCheckpointOptions& options);

// Whether `path` is a torch.save checkpoint: a file that starts as
// torch.save output, a pytorch_model.bin.index.json, or a directory holding
// one or pytorch_model.bin and no .safetensors file.
bool IsPickleCheckpointPath(const std::string& path);

// Whether the file at `path` starts as a torch.save file does (reads its
// first bytes; a shorter file is not one). Errors: File::Open's, kIoError.
absl::StatusOr<bool> IsPickleCheckpointFile(const std::string& path);

}  // namespace safetensors

#endif  // SAFETENSORS_IO_PICKLE_FILE_H_
