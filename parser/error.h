// Error codes shared by every layer of safetensors-cpp.
//
// Every failure is one absl::Status, and every status the project's API
// returns carries one of these codes. Its canonical absl::StatusCode says what
// kind of failure it is (malformed input -> absl::StatusCode::kInvalidArgument,
// missing tensor -> kNotFound, I/O -> from errno, allocation ->
// kResourceExhausted), its message says which rule was broken, for which
// tensor, at which byte offset, and its payload carries a closed ErrorCode so
// that tests and tools compare reasons, not strings.
//
// Each header ErrorCode maps onto exactly one error class of the reference
// implementation (huggingface/safetensors), so verdicts can be compared:
//
//   absl::Status s = MakeError(ErrorCode::kInvalidOffset, "tensor \"w\": ...");
//   GetErrorCode(s);         // ErrorCode::kInvalidOffset
//   ReferenceErrorClass(ErrorCode::kInvalidOffset);  // "InvalidOffset"
#ifndef SAFETENSORS_PARSER_ERROR_H_
#define SAFETENSORS_PARSER_ERROR_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace safetensors {

enum class ErrorCode {
  // Framing: the 8-byte length prefix and the header length.
  kHeaderTooSmall = 1,    // file shorter than the 8-byte length prefix
  kHeaderTooLarge,        // header length above ParseOptions::max_header_size
  kInvalidHeaderLength,   // header length runs past the end of the file
  // The header text.
  kInvalidUtf8,           // header is not valid UTF-8
  kInvalidJson,           // header is not JSON of our grammar (syntax)
  kInvalidSchema,         // JSON is well formed but not a safetensors header
  kDuplicateKey,          // a key appears twice in one JSON object
  // The tensors' layout in the data buffer.
  kInvalidOffset,         // offsets not contiguous from 0, or end < begin
  kValidationOverflow,    // element count x bit size does not fit in u64
  kMisalignedSlice,       // tensor's size in bits is not a whole byte count
  kTensorInvalidInfo,     // data_offsets length differs from dtype x shape
  kMetadataIncompleteBuffer,  // data buffer shorter or longer than the tensors
  // Beyond the header: lookups, I/O, LibTorch.
  kTensorNotFound,        // no tensor of that name
  kIoError,               // the operating system refused a read or write
  kUnsupportedDtype,      // the linked LibTorch has no such dtype
  kInvalidTensor,         // a tensor LibTorch or the format cannot hold as given
                          // (layout, sharing, F4 packing, int64 sizes)
  kBadArgument,           // a caller's argument is unusable (device, slice,
                          // filter pattern, a model's shape or keys)
  kOutOfMemory,           // an allocation failed
  kInternal,              // cannot happen: a bug here (the fuzzers crash on it)
  // Checkpoints: an index (model.safetensors.index.json) and its shards.
  kIndexTooLarge,         // index file above IndexOptions::max_index_size
  kInvalidShardName,      // a weight_map shard name that is not a plain file name
  kMissingShard,          // a shard the index names does not exist
  kTensorNotInShard,      // weight_map names a shard that lacks the tensor
  kTensorInTwoShards,     // two shards hold a tensor of the same name
  kUnlistedTensor,        // a shard holds a tensor weight_map does not list
  // Files as the operating system hands them over.
  kNotRegularFile,        // a FIFO, socket, device or directory where a file
                          // was expected (refused without blocking)
  kFileTruncated,         // a file shrank after it was opened (data loss)
  // Pickle checkpoints (torch.save's formats), read as data, never run.
  kUnsupportedFormat,     // neither a safetensors nor a torch.save file we
                          // read: TorchScript archive, tar format, other bytes
  kInvalidArchive,        // a zip whose structure is broken or ambiguous
  kInvalidPickle,         // a pickle stream outside our grammar or limits
  kRefusedGlobal,         // a global or persistent id outside the allow-list
  kInvalidStorage,        // a storage or tensor record that does not fit its
                          // bytes (extent, size, missing or extra record)
  // Append new codes here, then update kLastErrorCode, the table in error.cc
  // and the one in error_test.cc (the compiler and the test enforce both).
};

inline constexpr ErrorCode kLastErrorCode = ErrorCode::kInvalidStorage;
inline constexpr int kNumErrorCodes = static_cast<int>(kLastErrorCode);

// Every code, in declaration order.
absl::Span<const ErrorCode> AllErrorCodes();

// "kInvalidOffset" -> "InvalidOffset": the code's stable name, used in the
// status payload, the CLI's JSON output and testdata/ folder names.
absl::string_view ErrorCodeName(ErrorCode code);

// Inverse of ErrorCodeName; nullopt for an unknown name.
std::optional<ErrorCode> ErrorCodeFromName(absl::string_view name);

// The reference implementation's error class for `code`, e.g.
// "InvalidHeaderDeserialization" for kInvalidJson, kInvalidSchema and
// kDuplicateKey. Empty for codes the reference has no class for.
absl::string_view ReferenceErrorClass(ErrorCode code);

// A status with `code`'s canonical status code, `message` and `code` as
// payload.
absl::Status MakeError(ErrorCode code, absl::string_view message);

// An I/O error whose canonical code comes from `errno_value`; ErrorCode kIoError.
absl::Status MakeIoError(int errno_value, absl::string_view message);

// `status` with `context` and ": " before its message; code and payload kept.
// For a layer that knows where the failure happened ("shard \"x\"").
absl::Status AddContext(const absl::Status& status, absl::string_view context);

// The ErrorCode carried by `status`; nullopt for OK or a status made
// elsewhere.
std::optional<ErrorCode> GetErrorCode(const absl::Status& status);

// `text` in double quotes for an error message: quotes escaped as EscapeText
// does, cut after 100 bytes (at a UTF-8 boundary) so a hostile megabyte-long
// tensor name cannot flood a log.
std::string QuoteForMessage(absl::string_view text);

// `text` made safe to print on a terminal, whole: backslashes doubled; C0
// control characters and DEL as \xNN; C1 controls (U+0080..U+009F, which some
// terminals obey as escape sequences) and the line separators and bidi
// controls U+2028..U+202E and U+2066..U+2069 (which reorder or hide text) as
// \uNNNN. Everything else, including other UTF-8, is kept.
std::string EscapeText(absl::string_view text);

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_ERROR_H_
