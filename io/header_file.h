// Validating a file's header from disk, without LibTorch: what a scanner
// (`safetensors check`, `inspect`) and the torch layer's safe_open share.
// Reads the 8-byte length, then exactly 8 + N bytes, then ParseHeader
// (parser/header.h) judges the whole file; the data buffer is never read, so a
// 100 GB file costs the same as a small one.
//
//   absl::StatusOr<Header> header = ReadHeaderFile("model.safetensors");
#ifndef SAFETENSORS_IO_HEADER_FILE_H_
#define SAFETENSORS_IO_HEADER_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "io/file.h"
#include "parser/header.h"

namespace safetensors {

// The validated header of the open `file`. Memory: the header bytes, freed on
// return, and the Header.
// Errors: every parser error (header.h); kIoError.
absl::StatusOr<Header> ReadHeader(const File& file, const ParseOptions& options = {});

// Opens `path` and reads its header. Errors: as ReadHeader.
absl::StatusOr<Header> ReadHeaderFile(const std::string& path,
                                      const ParseOptions& options = {});

}  // namespace safetensors

#endif  // SAFETENSORS_IO_HEADER_FILE_H_
