#include "torch_io/model.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include <ATen/ops/empty.h>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "io/parallel_read.h"
#include "io/pickle_file.h"
#include "parser/error.h"
#include "parser/status_macros.h"
#include "torch_io/dtype_map.h"
#include "torch_io/materialize.h"
#include "torch_io/model_internal.h"
#include "torch_io/open_file.h"
#include "torch_io/pickle_load.h"
#include "torch_io/save.h"
#include "torch_io/shared_tensors.h"
#include "torch_io/torch_errors.h"

namespace safetensors {
namespace internal {

TensorDict StateDict(const torch::nn::Module& model) {
  TensorDict state;
  auto add_own = [&state](const torch::nn::Module& module, const std::string& prefix) {
    for (const auto& p : module.named_parameters(/*recurse=*/false)) {
      if (p.value().defined()) state.insert(prefix + p.key(), p.value());
    }
    for (const auto& b : module.named_buffers(/*recurse=*/false)) {
      if (b.value().defined()) state.insert(prefix + b.key(), b.value());
    }
  };
  // The root directly: include_self=true needs the root held by shared_ptr
  // (LibTorch throws otherwise), and callers may hold it on the stack.
  add_own(model, "");
  for (const auto& item : model.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    add_own(*item.value(), item.key() + ".");
  }
  return state;
}

}  // namespace internal

absl::Status save_model(const torch::nn::Module& model, const std::string& path,
                        std::optional<MetadataEntries> metadata, bool force_contiguous) {
  SAFETENSORS_ASSIGN_OR_RETURN(
      const TensorDict state,
      CallTorch("listing the model's tensors", [&] { return internal::StateDict(model); }));
  SAFETENSORS_ASSIGN_OR_RETURN(auto to_remove, internal::RemoveDuplicateNames(state));
  std::set<std::string> dropped;
  for (const auto& [kept, names] : to_remove) {
    for (const std::string& name : names) {
      if (!metadata.has_value()) metadata.emplace();
      const bool user_key = std::any_of(metadata->begin(), metadata->end(),
                                        [&](const auto& e) { return e.first == name; });
      if (!user_key) metadata->emplace_back(name, kept);  // never override user data
      dropped.insert(name);
    }
  }
  TensorDict kept;
  for (const auto& item : state) {
    if (dropped.count(item.key()) != 0) continue;
    if (!force_contiguous) {
      kept.insert(item.key(), item.value());
      continue;
    }
    SAFETENSORS_ASSIGN_OR_RETURN(
        at::Tensor packed,
        CallTorch("packing a tensor", [&] { return item.value().contiguous(); }));
    kept.insert(item.key(), std::move(packed));
  }
  absl::Status status = save_file(kept, path, metadata);
  // As the reference's save_model, which adds this advice to every ValueError
  // of save_file: ours are the kInvalidTensor refusals (sparse, non-contiguous).
  if (GetErrorCode(status) == ErrorCode::kInvalidTensor) {
    return MakeError(ErrorCode::kInvalidTensor,
                     absl::StrCat(status.message(),
                                  " Or use save_model(..., force_contiguous=True), read the "
                                  "docs for potential caveats."));
  }
  return status;
}

absl::StatusOr<LoadModelResult> load_model(torch::nn::Module& model, const std::string& path,
                                           bool strict, const DeviceSpec& device,
                                           const LoadOptions& options) {
  SAFETENSORS_ASSIGN_OR_RETURN(const c10::Device resolved, device.Resolve());
  if (IsPickleCheckpointFile(path).value_or(false)) {
    LoadOptions mapped = options;
    mapped.backend = Backend::kMmap;
    mapped.progress = nullptr;
    SAFETENSORS_ASSIGN_OR_RETURN(const TensorDict tensors, load_pickle_file(path, "cpu", mapped));
    return internal::LoadTensorsIntoModel(model, tensors, strict, options);
  }
  SAFETENSORS_ASSIGN_OR_RETURN(const std::shared_ptr<internal::OpenFile> file,
                               internal::OpenPath(path, resolved, internal::ForReading(options)));
  const internal::FileToLoad one[] = {{file.get(), ""}};
  return internal::LoadIntoModel(model, one, strict, options);
}

namespace internal {
namespace {

// A tensor of the model and the file tensor that fills it.
struct Fill {
  absl::string_view name;
  at::Tensor target;
  const FileToLoad* file;
  const TensorInfo* source;
  bool in_place;  // read straight into target's memory
};

// Python's load_state_dict(strict=False) names, with the reference's
// shared-tensor adjustment: a dropped name of a shared group counts as
// present when the model has it, else as unexpected. Strict refuses either,
// with the reference's message.
absl::StatusOr<LoadModelResult> MatchNames(
    const std::string& model_name, const TensorDict& state, const std::set<std::string>& in_file,
    const std::map<std::string, std::vector<std::string>>& to_remove, bool strict) {
  std::set<std::string> missing;
  std::vector<std::string> unexpected;
  for (const auto& item : state) {
    if (in_file.count(item.key()) == 0) missing.insert(item.key());
  }
  for (const std::string& name : in_file) {
    if (!state.contains(name)) unexpected.push_back(name);
  }
  for (const auto& [kept, names] : to_remove) {
    for (const std::string& name : names) {
      if (missing.erase(name) == 0) unexpected.push_back(name);
    }
  }
  LoadModelResult result{std::vector<std::string>(missing.begin(), missing.end()),
                         std::move(unexpected)};
  std::sort(result.unexpected.begin(), result.unexpected.end());
  if (strict && (!result.missing.empty() || !result.unexpected.empty())) {
    auto quoted = [](const std::vector<std::string>& names) {
      return absl::StrJoin(names, ", ", [](std::string* out, const std::string& n) {
        absl::StrAppend(out, "\"", n, "\"");
      });
    };
    std::string error = absl::StrCat("Error(s) in loading state_dict for ", model_name, ":");
    if (!result.missing.empty()) {
      absl::StrAppend(&error, "\n    Missing key(s) in state_dict: ", quoted(result.missing));
    }
    if (!result.unexpected.empty()) {
      absl::StrAppend(&error, "\n    Unexpected key(s) in state_dict: ",
                      quoted(result.unexpected));
    }
    return MakeError(ErrorCode::kBadArgument, error);
  }
  return result;
}

// Copies `source` into `target` as Tensor::copy_ does (dtype conversion,
// across devices), outside autograd.
absl::Status CopyInto(at::Tensor target, const at::Tensor& source) {
  return CallTorch("copying into the model", [&] {
           torch::NoGradGuard no_grad;
           target.copy_(source);
           return true;
         })
      .status();
}

// A tensor that cannot be read in place: whole through a tensor of the
// file's dtype (MaterializeOnCpu: a positioned read, as the files are opened
// ForReading), or, when it is larger than the staging budget and the
// model's tensor is contiguous, in pieces of at most `staging_bytes` through
// one reused buffer.
absl::Status FillThroughStaging(const Fill& fill, uint64_t staging_bytes,
                                ReadProgressTracker& progress) {
  const OpenFile& f = *fill.file->file;
  const TensorInfo& t = *fill.source;
  SAFETENSORS_ASSIGN_OR_RETURN(const TorchLayout layout, ToTorchLayout(t));
  const uint64_t element_bytes = c10::elementSize(layout.type);
  const uint64_t elements = t.num_bytes() / element_bytes;
  const bool in_pieces = t.num_bytes() > staging_bytes && fill.target.is_contiguous() &&
                         elements == static_cast<uint64_t>(fill.target.numel());
  if (!in_pieces) {
    SAFETENSORS_ASSIGN_OR_RETURN(const at::Tensor whole, MaterializeOnCpu(f, t));
    SAFETENSORS_RETURN_IF_ERROR(CopyInto(fill.target, whole));
    progress.Add(t.num_bytes(), 1);
    return absl::OkStatus();
  }
  const uint64_t per_piece = std::max<uint64_t>(1, staging_bytes / element_bytes);
  SAFETENSORS_ASSIGN_OR_RETURN(
      const at::Tensor staging, CallTorch("allocating a staging buffer", [&] {
        return at::empty({static_cast<int64_t>(per_piece)},
                         at::TensorOptions().dtype(layout.type));
      }));
  SAFETENSORS_ASSIGN_OR_RETURN(const at::Tensor flat, CallTorch("flattening a tensor", [&] {
                                 return fill.target.view({-1});
                               }));
  for (uint64_t start = 0; start < elements; start += per_piece) {
    const uint64_t n = std::min(per_piece, elements - start);
    const absl::Span<uint8_t> piece =
        BytesOf(staging).first(static_cast<size_t>(n * element_bytes));
    SAFETENSORS_RETURN_IF_ERROR(f.file->ReadAt(f.FileOffset(t) + start * element_bytes, piece));
    SAFETENSORS_RETURN_IF_ERROR(CopyInto(
        flat.narrow(0, static_cast<int64_t>(start), static_cast<int64_t>(n)),
        staging.narrow(0, 0, static_cast<int64_t>(n))));
    progress.Add(n * element_bytes, start + n == elements ? 1 : 0);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LoadModelResult> LoadTensorsIntoModel(torch::nn::Module& model, const TensorDict& tensors,
                                                     bool strict, const LoadOptions& options) {
  SAFETENSORS_ASSIGN_OR_RETURN(
      const TensorDict state,
      CallTorch("listing the model's tensors", [&] { return StateDict(model); }));
  std::set<std::string> in_file;
  for (const auto& item : tensors) in_file.insert(item.key());
  SAFETENSORS_ASSIGN_OR_RETURN(const auto to_remove, RemoveDuplicateNames(state, in_file));
  SAFETENSORS_ASSIGN_OR_RETURN(LoadModelResult result,
                               MatchNames(model.name(), state, in_file, to_remove, strict));
  // Every shape is checked before the first byte is written.
  std::vector<std::pair<at::Tensor, const at::Tensor*>> fills;
  uint64_t bytes_total = 0;
  for (const auto& item : state) {
    const at::Tensor* source = tensors.find(item.key());
    if (source == nullptr) continue;
    if (item.value().sizes() != source->sizes()) {
      return MakeError(ErrorCode::kBadArgument,
                       absl::StrCat("Error(s) in loading state_dict for ", model.name(),
                                    ":\n\tsize mismatch for ", item.key(),
                                    ": copying a param with shape [", absl::StrJoin(source->sizes(), ", "),
                                    "] from checkpoint, the shape in current model is [",
                                    absl::StrJoin(item.value().sizes(), ", "), "]."));
    }
    fills.emplace_back(item.value(), source);
    bytes_total += static_cast<uint64_t>(source->nbytes());
  }
  ReadProgressTracker progress(options.progress, bytes_total, fills.size());
  for (const auto& [target, source] : fills) {
    const absl::Status status = CopyInto(target, *source);
    if (!status.ok()) {
      return AddContext(status, "the model is partly loaded (tensors copied before the failure hold the "
                                "file's values, the others their own)");
    }
    progress.Add(static_cast<uint64_t>(source->nbytes()), 1);
  }
  return result;
}

absl::StatusOr<LoadModelResult> LoadIntoModel(torch::nn::Module& model,
                                              absl::Span<const FileToLoad> files, bool strict,
                                              const LoadOptions& options) {
  SAFETENSORS_ASSIGN_OR_RETURN(
      const TensorDict state,
      CallTorch("listing the model's tensors", [&] { return StateDict(model); }));
  absl::flat_hash_map<absl::string_view, std::pair<const FileToLoad*, const TensorInfo*>> sources;
  std::set<std::string> in_file;
  for (const FileToLoad& f : files) {
    for (size_t i = 0; i < f.file->header->tensors().size(); ++i) {
      if (!f.file->selected[i]) continue;
      const TensorInfo& t = f.file->header->tensors()[i];
      sources.emplace(t.name, std::make_pair(&f, &t));
      in_file.emplace(t.name);
    }
  }
  SAFETENSORS_ASSIGN_OR_RETURN(const auto to_remove, RemoveDuplicateNames(state, in_file));
  SAFETENSORS_ASSIGN_OR_RETURN(LoadModelResult result,
                               MatchNames(model.name(), state, in_file, to_remove, strict));

  // Every shape is checked before the first byte is written.
  std::vector<Fill> fills;
  absl::flat_hash_set<const void*> storages;  // of the model tensors filled so far
  uint64_t bytes_total = 0;
  for (const auto& item : state) {
    const auto found = sources.find(item.key());
    if (found == sources.end()) continue;
    const TensorInfo& t = *found->second.second;
    const at::Tensor& target = item.value();
    SAFETENSORS_ASSIGN_OR_RETURN(const TorchLayout layout, ToTorchLayout(t));
    if (target.sizes() != c10::IntArrayRef(layout.sizes)) {
      return MakeError(ErrorCode::kBadArgument,
                       absl::StrCat("Error(s) in loading state_dict for ", model.name(),
                                    ":\n\tsize mismatch for ", item.key(),
                                    ": copying a param with shape [",
                                    absl::StrJoin(layout.sizes, ", "),
                                    "] from checkpoint, the shape in current model is [",
                                    absl::StrJoin(target.sizes(), ", "), "]."));
    }
    const bool first_of_its_memory =
        storages.insert(target.storage().unsafeGetStorageImpl()).second;
    const bool in_place = first_of_its_memory && target.device().is_cpu() &&
                          target.layout() == c10::kStrided && target.is_contiguous() &&
                          target.scalar_type() == layout.type &&
                          target.nbytes() == t.num_bytes();
    fills.push_back(Fill{found->first, target, found->second.first, &t, in_place});
    bytes_total += t.num_bytes();
  }
  ReadProgressTracker progress(options.progress, bytes_total, fills.size());

  // In file order, whatever the state dict's, so that runs of adjacent
  // tensors coalesce into large reads.
  std::vector<const Fill*> in_place;
  for (const Fill& fill : fills) {
    if (fill.in_place) in_place.push_back(&fill);
  }
  std::sort(in_place.begin(), in_place.end(), [](const Fill* a, const Fill* b) {
    return std::tie(a->file, a->source->data_begin) < std::tie(b->file, b->source->data_begin);
  });
  std::vector<ReadPlan> plans(files.size());
  for (const Fill* fill : in_place) {
    const OpenFile& f = *fill->file->file;
    plans[static_cast<size_t>(fill->file - files.data())].Add(f.FileOffset(*fill->source),
                                                              BytesOf(fill->target), fill->name);
  }
  std::vector<FileReadPlan> reads;
  uint64_t in_place_bytes = 0;
  for (size_t n = 0; n < files.size(); ++n) {
    reads.push_back(FileReadPlan{files[n].file->file.get(), &plans[n], files[n].context});
    in_place_bytes += plans[n].bytes();
  }
  absl::Status status =
      ReadInParallel(reads, ThreadsForRead(options.threads, in_place_bytes), &progress);
  for (const Fill& fill : fills) {
    if (!status.ok()) break;
    if (fill.in_place) continue;
    status = FillThroughStaging(fill, options.staging_bytes, progress);
    if (!status.ok()) {
      const std::string& shard = fill.file->context;
      status = AddContext(status, absl::StrCat(shard, shard.empty() ? "" : ": ", "tensor ",
                                               QuoteForMessage(fill.name)));
    }
  }
  if (!status.ok()) {
    return AddContext(status,
                      "the model is partly loaded (tensors read before the failure hold the "
                      "file's values, the others their own)");
  }
  return result;
}

}  // namespace internal
}  // namespace safetensors
