#include "torch_io/save.h"

#include "torch_io/save_internal.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "io/atomic_file.h"
#include "parser/error.h"
#include "parser/header_writer.h"
#include "parser/status_macros.h"
#include "torch_io/dtype_map.h"
#include "torch_io/shared_tensors.h"
#include "torch_io/torch_errors.h"

namespace safetensors {
namespace internal {
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

namespace internal {

absl::StatusOr<AtomicFileWriter> WriteToTemporary(const TensorDict& tensors,
                                                  const std::string& path,
                                                  const std::optional<MetadataEntries>& metadata) {
  SAFETENSORS_ASSIGN_OR_RETURN(PreparedSave prepared, Prepare(tensors, metadata));
  SAFETENSORS_ASSIGN_OR_RETURN(AtomicFileWriter writer, AtomicFileWriter::Create(path));
  SAFETENSORS_RETURN_IF_ERROR(writer.Append(prepared.header.bytes));
  for (const at::Tensor& t : prepared.in_file_order) {
    SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor cpu, OnCpu(t));
    // Straight from the tensor's memory: no staging copy.
    SAFETENSORS_RETURN_IF_ERROR(writer.Append(
        absl::string_view(static_cast<const char*>(cpu.data_ptr()), cpu.nbytes())));
  }
  SAFETENSORS_RETURN_IF_ERROR(writer.Finish());
  return writer;
}

}  // namespace internal

absl::Status save_file(const TensorDict& tensors, const std::string& path,
                       const std::optional<MetadataEntries>& metadata) {
  SAFETENSORS_ASSIGN_OR_RETURN(AtomicFileWriter writer,
                               internal::WriteToTemporary(tensors, path, metadata));
  return writer.Commit();
}

}  // namespace safetensors
