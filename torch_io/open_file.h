// What a SafeOpen handle and the TensorSlices it returns share: the open file,
// its mapping (mmap backend), the validated header and the load's choices.
// Internal to torch_io.
#ifndef SAFETENSORS_TORCH_IO_OPEN_FILE_H_
#define SAFETENSORS_TORCH_IO_OPEN_FILE_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include <c10/core/Device.h>

#include "io/file.h"
#include "parser/header.h"
#include "torch_io/types.h"

namespace safetensors {
namespace internal {

struct OpenFile {
  std::shared_ptr<File> file;
  std::shared_ptr<Mapping> mapping;  // the mmap backend's; null for pread
  Header header;
  c10::Device device;
  LoadOptions options;
  std::vector<bool> selected;  // by position in header.tensors(): passes the filter

  OpenFile(Header h, c10::Device d) : header(std::move(h)), device(d) {}

  uint64_t FileOffset(const TensorInfo& t) const {
    return header.data_offset() + t.data_begin;
  }
};

}  // namespace internal
}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_OPEN_FILE_H_
