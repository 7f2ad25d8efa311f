// Bytes -> torch_io: load() from memory, and safe_open on an in-memory file
// (memfd) with both backends, and load_file, whose planned reads must give
// the bytes get_tensor gives. Every tensor returned is read completely, and
// each tensor is also read back through a slice. The verdict must be the
// parser's.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "fuzz/header_invariants.h"
#include "parser/error.h"
#include "parser/header.h"
#include "torch_io/load.h"
#include "torch_io/safe_open.h"

namespace {

using safetensors::fuzzing::Require;

// Reads every byte, so ASan sees any tensor that points outside its memory.
uint64_t ReadAll(const at::Tensor& t) {
  Require(t.is_contiguous(), "loaded tensors are contiguous");
  const uint8_t* p = static_cast<const uint8_t*>(t.data_ptr());
  uint64_t sum = 0;
  for (size_t i = 0; i < t.nbytes(); ++i) sum += p[i];
  return sum;
}

// The verdict a loader may give for a header the parser accepted: success,
// or a tensor this LibTorch cannot hold.
bool AcceptableFailure(const absl::Status& status) {
  const auto code = safetensors::GetErrorCode(status);
  return code == safetensors::ErrorCode::kUnsupportedDtype ||
         code == safetensors::ErrorCode::kInvalidTensor;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safetensors;
  std::unique_ptr<uint8_t[]> copy(new uint8_t[size]);
  if (size > 0) std::memcpy(copy.get(), data, size);
  const absl::string_view bytes(reinterpret_cast<const char*>(copy.get()), size);
  const absl::StatusOr<Header> parsed = ParseHeader(bytes);

  absl::StatusOr<TensorDict> from_memory = load(bytes);
  if (!parsed.ok()) {
    Require(GetErrorCode(from_memory.status()) == GetErrorCode(parsed.status()),
            "load() fails as the parser does");
  } else if (from_memory.ok()) {
    for (const auto& item : *from_memory) ReadAll(item.value());
  } else {
    Require(AcceptableFailure(from_memory.status()), "load() fails only for LibTorch limits");
  }

  const int fd = ::memfd_create("load_fuzzer", MFD_CLOEXEC);
  Require(fd >= 0, "memfd_create");
  Require(size == 0 || ::write(fd, copy.get(), size) == static_cast<ssize_t>(size), "write");
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  for (Backend backend : {Backend::kMmap, Backend::kPread}) {
    LoadOptions options;
    options.backend = backend;
    absl::StatusOr<SafeOpen> f = safe_open(path, "cpu", options);
    if (!parsed.ok()) {
      Require(GetErrorCode(f.status()) == GetErrorCode(parsed.status()),
              "safe_open fails as the parser does");
      continue;
    }
    Require(f.ok(), "safe_open accepts what the parser accepts");
    std::map<std::string, uint64_t> sums;
    for (const TensorInfo& t : f->header().tensors()) {
      absl::StatusOr<at::Tensor> tensor = f->get_tensor(t.name);
      if (!tensor.ok()) {
        Require(AcceptableFailure(tensor.status()), "get_tensor fails only for LibTorch limits");
        continue;
      }
      const uint64_t sum = ReadAll(*tensor);
      sums[std::string(t.name)] = sum;
      absl::StatusOr<TensorSlice> slice = f->get_slice(t.name);
      Require(slice.ok(), "get_slice of a listed tensor");
      absl::StatusOr<at::Tensor> whole = slice->get({SliceIndex::Ellipsis()});
      Require(whole.ok() && ReadAll(*whole) == sum, "a whole slice equals the tensor");
    }
    // The whole load plans its reads (runs of adjacent tensors in one
    // preadv, large ones split over threads): the same bytes per tensor.
    absl::StatusOr<TensorDict> all = load_file(path, "cpu", options);
    if (!all.ok()) {
      Require(AcceptableFailure(all.status()), "load_file fails only for LibTorch limits");
      continue;
    }
    for (const auto& item : *all) {
      Require(sums.count(item.key()) == 1 && sums[item.key()] == ReadAll(item.value()),
              "load_file reads what get_tensor reads");
    }
  }
  ::close(fd);
  return 0;
}
