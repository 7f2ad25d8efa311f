// What a SafeOpen handle and the TensorSlices it returns share: the open file,
// its mapping (mmap backend), the validated header and the load's choices.
// Internal to torch_io.
#ifndef SAFETENSORS_TORCH_IO_OPEN_FILE_H_
#define SAFETENSORS_TORCH_IO_OPEN_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <c10/core/Device.h>

#include "absl/status/statusor.h"

#include "io/file.h"
#include "parser/header.h"
#include "torch_io/types.h"

namespace safetensors {
namespace internal {

struct OpenFile {
  std::shared_ptr<File> file;
  std::shared_ptr<Mapping> mapping;  // the mmap backend's; null for pread
  // Shared: a checkpoint's shards keep their headers in the io::Checkpoint.
  std::shared_ptr<const Header> header;
  c10::Device device;
  LoadOptions options;
  std::vector<bool> selected;  // by position in header->tensors(): passes the filter

  OpenFile(std::shared_ptr<const Header> h, c10::Device d) : header(std::move(h)), device(d) {}

  uint64_t FileOffset(const TensorInfo& t) const {
    return header->data_offset() + t.data_begin;
  }
};

// The state of an open, validated file: compiles options.tensor_filter and
// maps the file for the mmap backend. The caller may narrow `selected`
// before sharing it.
// Errors: kBadArgument (filter pattern), kIoError (mapping).
absl::StatusOr<std::shared_ptr<OpenFile>> MakeOpenFile(std::shared_ptr<File> file,
                                                             std::shared_ptr<const Header> header,
                                                             c10::Device device,
                                                             const LoadOptions& options);

// Opens and validates `path` for a load: SafeOpen::Open's work, shared with
// load_model. Errors: kIoError; every parser error; kBadArgument (filter).
absl::StatusOr<std::shared_ptr<OpenFile>> OpenPath(const std::string& path, c10::Device device,
                                                   const LoadOptions& options);

}  // namespace internal
}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_OPEN_FILE_H_
