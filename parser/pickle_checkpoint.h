// torch.save checkpoints (`pytorch_model.bin`, `*.pt`, `*.ckpt`) read as data:
// a table of tensors over a table of storages, validated before any byte of
// a tensor is read, and nothing executed. No LibTorch, no Python.
//
// Formats: the zip format (torch >= 1.6, parser/zip_archive.h) and the legacy
// one (`_use_new_zipfile_serialization=False`: a run of pickles, then the raw
// storages). TorchScript archives and the older tar format are refused with
// kUnsupportedFormat. A file must be exactly one format: bytes before a zip,
// after a zip's end record, after the pickle's STOP or after the last legacy
// storage are refused.
//
// The pickle is read by parser/pickle_reader.h; here its globals are checked
// against an allow-list (the names torch.save writes for dense tensors and
// state dicts: `torch._utils._rebuild_tensor_v2`/`_v3`, `_rebuild_parameter`
// (`_with_state`), `collections.OrderedDict`, the `torch.*Storage` classes and
// the dtypes). By default any other global is refused (kRefusedGlobal, naming
// it and its byte offset); with `skip_unknown` it is kept as an inert
// placeholder and the values made from it are reported, not extracted.
// Persistent ids must be `('storage', <Storage class>, key, location, numel)`.
//
// Names: the tensors of the dict under `key_path` (dot-separated) if given,
// else of the first of `state_dict`, `model`, `module` whose value is a dict,
// else of the top-level dict; nested dicts flatten with dots
// ("encoder.layer.0.weight"). Everything else (epochs, strings, lists,
// tensors outside that dict) is reported in `others`, not an error.
//
//   absl::StatusOr<PickleCheckpoint> table = ParsePickleCheckpoint(file_bytes, {});
//   for (const PickleTensor& t : table->tensors) ... table->storages[t.storage] ...
#ifndef SAFETENSORS_PARSER_PICKLE_CHECKPOINT_H_
#define SAFETENSORS_PARSER_PICKLE_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "parser/dtype.h"
#include "parser/pickle_reader.h"
#include "parser/zip_archive.h"

namespace safetensors {

enum class PickleFormat { kZip, kLegacy };

struct PickleStorage {
  std::string key;
  Dtype dtype = Dtype::kU8;
  uint64_t numel = 0;        // elements of dtype
  uint64_t byte_offset = 0;  // where its bytes lie in the file
  uint64_t byte_size = 0;    // numel x element size, the record's size
};

struct PickleTensor {
  std::string name;
  Dtype dtype = Dtype::kU8;
  std::vector<uint64_t> shape;
  std::vector<uint64_t> strides;  // in elements
  size_t storage = 0;             // index into PickleCheckpoint::storages
  uint64_t storage_offset = 0;    // in elements
  bool parameter = false;         // saved as an nn.Parameter
  bool requires_grad = false;
};

struct PickleGlobalUse {
  std::string name;      // "module.name"
  uint64_t offset = 0;   // file offset of its GLOBAL opcode
  bool allowed = false;  // on the allow-list
};

struct PickleOther {
  std::string name;         // flattened path
  std::string description;  // "int 3", "tensor outside state_dict", ...
};

struct PickleCheckpoint {
  PickleFormat format = PickleFormat::kZip;
  bool big_endian = false;  // storages hold big-endian elements
  std::string archive_prefix;  // the zip's folder ("archive", the file stem)
  std::string root_path;       // the dict the tensors were named from ("" = top)
  std::vector<PickleStorage> storages;
  std::vector<PickleTensor> tensors;
  std::vector<PickleGlobalUse> globals;  // every GLOBAL, in stream order
  std::vector<PickleOther> others;
  std::vector<PickleOther> skipped;  // placeholders kept by skip_unknown
};

struct PickleCheckpointOptions {
  // Keep values made from globals outside the allow-list as placeholders
  // instead of refusing the file.
  bool skip_unknown = false;
  // Dot-separated keys of the dict to name tensors from; empty = the rule above.
  std::string key_path;
  // Passed to the zip reader (parser/zip_archive.h): the file ranges it is
  // about to read, for a caller that reads ahead.
  ZipReadHint will_read;
  // The pickle's size limit: a state dict's pickle is ~100 bytes per tensor.
  uint64_t max_pickle_size = uint64_t{1} << 30;
  PickleLimits limits;
};

// Reads the checkpoint that is the whole of `file` (not copied or kept; the
// storages' bytes are not touched). Errors: kUnsupportedFormat,
// kInvalidArchive, kInvalidPickle, kRefusedGlobal, kInvalidStorage,
// kUnsupportedDtype (complex128, quantized storages), kDuplicateKey (two
// tensors flatten to one name).
absl::StatusOr<PickleCheckpoint> ParsePickleCheckpoint(absl::Span<const uint8_t> file,
                                                       const PickleCheckpointOptions& options);

// True when `file` (its first 14 bytes are enough) starts as a torch.save
// file does: a zip's first local header, or a legacy file's PROTO 2 and magic
// number. No safetensors file starts so (its header length would be above
// 64 MiB): for choosing a reader by content.
bool LooksLikePickleCheckpoint(absl::Span<const uint8_t> file);

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_PICKLE_CHECKPOINT_H_
