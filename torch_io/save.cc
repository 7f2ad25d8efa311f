#include "torch_io/save.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <random>
#include <tuple>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "parser/error.h"
#include "parser/header_writer.h"
#include "parser/status_macros.h"
#include "torch_io/dtype_map.h"
#include "torch_io/torch_errors.h"

namespace safetensors {
namespace internal {
namespace {

// First byte past the last element (positive strides, as PyTorch tensors
// from modules have); the start for an empty tensor.
uintptr_t EndAddress(const at::Tensor& t) {
  const uintptr_t start = reinterpret_cast<uintptr_t>(t.data_ptr());
  if (t.numel() == 0) return start;
  int64_t last = 0;
  for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
  return start + static_cast<uintptr_t>(last + 1) * static_cast<uintptr_t>(t.element_size());
}

}  // namespace

std::vector<std::vector<std::string>> FindSharedTensors(const TensorDict& tensors) {
  // Tensors grouped by storage, as the reference keys them.
  std::map<std::tuple<std::string, uintptr_t, size_t>, std::vector<const TensorDict::Item*>>
      by_storage;
  for (const auto& item : tensors) {
    const at::Tensor& t = item.value();
    if (!t.defined() || !t.has_storage() || t.is_meta()) continue;
    const uintptr_t storage = reinterpret_cast<uintptr_t>(t.storage().data());
    const size_t bytes = t.storage().nbytes();
    if (storage == 0 || bytes == 0) continue;
    by_storage[{t.device().str(), storage, bytes}].push_back(&item);
  }
  // Within one storage, only tensors whose byte ranges overlap are shared.
  std::vector<std::vector<std::string>> groups;
  for (auto& [key, items] : by_storage) {
    std::vector<std::tuple<uintptr_t, uintptr_t, std::string>> areas;
    for (const TensorDict::Item* item : items) {
      areas.emplace_back(reinterpret_cast<uintptr_t>(item->value().data_ptr()),
                         EndAddress(item->value()), item->key());
    }
    std::sort(areas.begin(), areas.end());
    uintptr_t last_stop = std::get<1>(areas[0]);
    groups.push_back({std::get<2>(areas[0])});
    for (size_t i = 1; i < areas.size(); ++i) {
      const auto& [start, stop, name] = areas[i];
      if (start >= last_stop) {
        groups.push_back({name});
      } else {
        groups.back().push_back(name);
      }
      last_stop = stop;
    }
  }
  for (auto& group : groups) std::sort(group.begin(), group.end());
  std::sort(groups.begin(), groups.end());
  return groups;
}

bool CoversWholeStorage(const at::Tensor& t) {
  return t.data_ptr() == t.storage().data() &&
         t.nbytes() == t.storage().nbytes();
}

namespace {

// What save and save_file both need: the checks, the header, and the
// tensors in the order their bytes follow it.
struct PreparedSave {
  SerializedHeader header;
  std::vector<at::Tensor> in_file_order;
};

absl::StatusOr<PreparedSave> Prepare(const TensorDict& tensors,
                                     const std::optional<MetadataEntries>& metadata) {
  std::vector<std::string> undefined, sparse;
  for (const auto& item : tensors) {
    if (!item.value().defined()) {
      undefined.push_back(item.key());
    } else if (item.value().layout() != c10::kStrided) {
      sparse.push_back(item.key());
    }
  }
  if (!undefined.empty()) {
    return MakeError(ErrorCode::kInvalidTensor,
                     absl::StrCat("undefined tensors cannot be saved: `",
                                  absl::StrJoin(undefined, "`, `"), "`"));
  }
  if (!sparse.empty()) {
    return MakeError(
        ErrorCode::kInvalidTensor,
        absl::StrCat("You are trying to save a sparse tensors: `[",
                     absl::StrJoin(sparse, ", "),
                     "]` which this library does not support. You can make it a dense "
                     "tensor before saving with `.to_dense()` but be aware this might "
                     "make a much larger file than needed."));
  }
  std::vector<std::string> failing;
  for (const auto& group : FindSharedTensors(tensors)) {
    if (group.size() > 1) failing.push_back(absl::StrCat("{", absl::StrJoin(group, ", "), "}"));
  }
  if (!failing.empty()) {
    return MakeError(
        ErrorCode::kInvalidTensor,
        absl::StrCat("Some tensors share memory, this will lead to duplicate memory on disk "
                     "and potential differences when loading them again: [",
                     absl::StrJoin(failing, ", "),
                     "]. A potential way to correctly save your model is to use "
                     "`save_model`. More information at "
                     "https://huggingface.co/docs/safetensors/torch_shared_tensors"));
  }
  std::vector<TensorDescription> descriptions;
  descriptions.reserve(tensors.size());
  for (const auto& item : tensors) {
    const at::Tensor& t = item.value();
    if (!t.is_contiguous()) {
      return MakeError(
          ErrorCode::kInvalidTensor,
          absl::StrCat("You are trying to save a non contiguous tensor: `", item.key(),
                       "` which is not allowed. It either means you are trying to save "
                       "tensors which are reference of each other in which case it's "
                       "recommended to save only the full tensors, and reslice at load "
                       "time, or simply call `.contiguous()` on your tensor to pack it "
                       "before saving."));
    }
    SAFETENSORS_ASSIGN_OR_RETURN(Dtype dtype, FromScalarType(t.scalar_type(), item.key()));
    SAFETENSORS_ASSIGN_OR_RETURN(std::vector<uint64_t> shape,
                                 ToFileShape(dtype, t.sizes(), item.key()));
    descriptions.push_back({item.key(), dtype, std::move(shape)});
  }
  PreparedSave prepared;
  SAFETENSORS_ASSIGN_OR_RETURN(prepared.header, SerializeHeader(descriptions, metadata));
  const std::vector<at::Tensor> values = tensors.values();
  for (const TensorPlacement& p : prepared.header.layout) {
    prepared.in_file_order.push_back(values[p.input_index]);
  }
  return prepared;
}

// `t`'s bytes on the CPU: itself, or a copy for tensors on other devices.
absl::StatusOr<at::Tensor> OnCpu(const at::Tensor& t) {
  if (t.device().is_cpu()) return t;
  return CallTorch("copying a tensor to the CPU", [&] { return t.cpu(); });
}

absl::Status WriteAll(int fd, const void* data, size_t size, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, std::min<size_t>(size, size_t{1} << 30));
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeIoError(errno, absl::StrCat("cannot write ", QuoteForMessage(path)));
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace
}  // namespace internal

absl::StatusOr<std::string> save(const TensorDict& tensors,
                                 const std::optional<MetadataEntries>& metadata) {
  SAFETENSORS_ASSIGN_OR_RETURN(internal::PreparedSave prepared,
                               internal::Prepare(tensors, metadata));
  std::string bytes = std::move(prepared.header.bytes);
  bytes.reserve(bytes.size() + prepared.header.data_size);
  for (const at::Tensor& t : prepared.in_file_order) {
    SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor cpu, internal::OnCpu(t));
    bytes.append(static_cast<const char*>(cpu.data_ptr()), cpu.nbytes());
  }
  return bytes;
}

absl::Status save_file(const TensorDict& tensors, const std::string& path,
                       const std::optional<MetadataEntries>& metadata) {
  SAFETENSORS_ASSIGN_OR_RETURN(internal::PreparedSave prepared,
                               internal::Prepare(tensors, metadata));
  // A new name in the target's directory, so the final rename is atomic.
  // O_EXCL with mode 0666 lets the umask decide permissions, as for any new
  // file.
  std::random_device entropy;
  std::string temp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    temp = absl::StrCat(path, ".tmp-", ::getpid(), "-", entropy());
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && (errno != EEXIST || attempt == 16)) {
      return MakeIoError(errno, absl::StrCat("cannot create a temporary file beside ",
                                             QuoteForMessage(path)));
    }
  }
  bool committed = false;
  absl::Cleanup cleanup = [&] {
    if (fd >= 0) ::close(fd);
    if (!committed) ::unlink(temp.c_str());
  };
  SAFETENSORS_RETURN_IF_ERROR(internal::WriteAll(fd, prepared.header.bytes.data(),
                                                 prepared.header.bytes.size(), temp));
  for (const at::Tensor& t : prepared.in_file_order) {
    SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor cpu, internal::OnCpu(t));
    SAFETENSORS_RETURN_IF_ERROR(internal::WriteAll(fd, cpu.data_ptr(), cpu.nbytes(), temp));
  }
  if (::fsync(fd) != 0) {
    return MakeIoError(errno, absl::StrCat("cannot flush ", QuoteForMessage(temp)));
  }
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0) return MakeIoError(errno, absl::StrCat("cannot close ", QuoteForMessage(temp)));
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return MakeIoError(errno, absl::StrCat("cannot rename ", QuoteForMessage(temp), " to ",
                                           QuoteForMessage(path)));
  }
  committed = true;
  // Make the rename itself durable.
  const int dir = ::open(internal::DirectoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return absl::OkStatus();
}

}  // namespace safetensors
