#include "torch_io/safe_open.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "io/file.h"
#include "io/header_file.h"
#include "parser/error.h"
#include "parser/status_macros.h"
#include "torch_io/materialize.h"
#include "torch_io/open_file.h"
#include "io/tensor_filter.h"

namespace safetensors {

using internal::MaterializeOnCpu;
using internal::OpenFile;
using internal::ToDevice;

namespace internal {

absl::StatusOr<std::shared_ptr<OpenFile>> MakeOpenFile(std::shared_ptr<File> file,
                                                             std::shared_ptr<const Header> header,
                                                             c10::Device device,
                                                             const LoadOptions& options) {
  SAFETENSORS_ASSIGN_OR_RETURN(const TensorFilter filter,
                               TensorFilter::Compile(options.tensor_filter));
  auto open = std::make_shared<OpenFile>(std::move(header), device);
  open->options = options;
  open->selected.reserve(open->header->tensors().size());
  for (const TensorInfo& t : open->header->tensors()) {
    open->selected.push_back(filter.Selects(t.name));
  }
  if (options.backend == Backend::kMmap) {
    SAFETENSORS_ASSIGN_OR_RETURN(open->mapping, Mapping::Map(*file));
  }
  open->file = std::move(file);
  return open;
}

absl::StatusOr<std::shared_ptr<OpenFile>> OpenPath(const std::string& path, c10::Device device,
                                                   const LoadOptions& options) {
  // Fail on a bad pattern before any I/O.
  SAFETENSORS_RETURN_IF_ERROR(TensorFilter::Compile(options.tensor_filter).status());
  SAFETENSORS_ASSIGN_OR_RETURN(std::shared_ptr<File> file, File::Open(path));
  SAFETENSORS_ASSIGN_OR_RETURN(Header header, ReadHeader(*file, options.parse));
  return MakeOpenFile(std::move(file), std::make_shared<const Header>(std::move(header)), device,
                      options);
}

}  // namespace internal

absl::StatusOr<SafeOpen> SafeOpen::Open(const std::string& path, const DeviceSpec& device,
                                        const LoadOptions& options) {
  SAFETENSORS_ASSIGN_OR_RETURN(const c10::Device resolved, device.Resolve());
  SAFETENSORS_ASSIGN_OR_RETURN(std::shared_ptr<OpenFile> open,
                               internal::OpenPath(path, resolved, options));
  return SafeOpen(std::move(open));
}

std::vector<std::string> SafeOpen::offset_keys() const {
  std::vector<std::string> names;
  for (size_t i = 0; i < file_->selected.size(); ++i) {
    if (file_->selected[i]) names.emplace_back(file_->header->tensors()[i].name);
  }
  return names;
}

std::vector<std::string> SafeOpen::keys() const {
  std::vector<std::string> names = offset_keys();
  std::sort(names.begin(), names.end());
  return names;
}

const std::optional<MetadataEntries>& SafeOpen::metadata() const {
  return file_->header->metadata();
}

const Header& SafeOpen::header() const { return *file_->header; }

absl::StatusOr<const TensorInfo*> SafeOpen::Lookup(absl::string_view name) const {
  const TensorInfo* info = file_->header->Find(name);
  if (info == nullptr ||
      !file_->selected[static_cast<size_t>(info - file_->header->tensors().data())]) {
    return MakeError(ErrorCode::kTensorNotFound,
                     absl::StrCat("no tensor named ", QuoteForMessage(name), " in ",
                                  QuoteForMessage(file_->file->path())));
  }
  return info;
}

absl::StatusOr<at::Tensor> SafeOpen::get_tensor(absl::string_view name) const {
  SAFETENSORS_ASSIGN_OR_RETURN(const TensorInfo* info, Lookup(name));
  SAFETENSORS_ASSIGN_OR_RETURN(at::Tensor cpu, MaterializeOnCpu(*file_, *info));
  return ToDevice(std::move(cpu), file_->device);
}

absl::StatusOr<TensorDict> SafeOpen::get_tensors() const {
  const internal::FileToLoad one[] = {{file_.get(), ""}};
  return internal::MaterializeAll(one);
}

absl::StatusOr<TensorSlice> SafeOpen::get_slice(absl::string_view name) const {
  SAFETENSORS_ASSIGN_OR_RETURN(const TensorInfo* info, Lookup(name));
  return TensorSlice(file_, info);
}

}  // namespace safetensors
