#include "torch_io/model.h"

#include <algorithm>

#include <torch/csrc/autograd/grad_mode.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "parser/error.h"
#include "parser/status_macros.h"
#include "torch_io/load.h"
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

absl::StatusOr<std::map<std::string, std::vector<std::string>>> RemoveDuplicateNames(
    const TensorDict& state, const std::set<std::string>& preferred_names,
    const std::set<std::string>& discard_names) {
  std::map<std::string, std::vector<std::string>> to_remove;
  for (const std::vector<std::string>& shared : FindSharedTensors(state)) {
    std::vector<std::string> complete;  // sorted, as `shared` is
    for (const std::string& name : shared) {
      if (CoversWholeStorage(state[name])) complete.push_back(name);
    }
    if (complete.empty()) {
      return MakeError(
          ErrorCode::kInvalidTensor,
          absl::StrCat("Error while trying to find names to remove to save state dict, but "
                       "found no suitable name to keep for saving amongst: {",
                       absl::StrJoin(shared, ", "),
                       "}. None is covering the entire storage.Refusing to save/load the "
                       "model since you could be storing much more memory than needed. "
                       "Please refer to https://huggingface.co/docs/safetensors/"
                       "torch_shared_tensors for more information. Or open an issue."));
    }
    std::string keep = complete.front();
    for (const std::string& name : complete) {
      if (discard_names.count(name) == 0) {
        keep = name;  // the first complete name not to be discarded
        break;
      }
    }
    for (const std::string& name : complete) {
      if (preferred_names.count(name) != 0) {
        keep = name;  // the first complete name the file has
        break;
      }
    }
    for (const std::string& name : shared) {
      if (name != keep) to_remove[keep].push_back(name);
    }
  }
  return to_remove;
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
  SAFETENSORS_ASSIGN_OR_RETURN(const TensorDict file, load_file(path, device, options));
  return internal::LoadStateDict(model, file, strict);
}

absl::StatusOr<LoadModelResult> internal::LoadStateDict(torch::nn::Module& model,
                                                        const TensorDict& file, bool strict) {
  SAFETENSORS_ASSIGN_OR_RETURN(
      const TensorDict state,
      CallTorch("listing the model's tensors", [&] { return internal::StateDict(model); }));
  const std::vector<std::string> file_names = file.keys();  // a copy per call
  const std::set<std::string> in_file(file_names.begin(), file_names.end());
  SAFETENSORS_ASSIGN_OR_RETURN(auto to_remove,
                               internal::RemoveDuplicateNames(state, in_file));

  // Python's load_state_dict(strict=False): shapes must agree; copy what
  // matches, list the rest.
  std::set<std::string> missing;
  std::vector<std::string> unexpected;
  for (const auto& item : state) {
    const at::Tensor* source = file.find(item.key());
    if (source == nullptr) {
      missing.insert(item.key());
      continue;
    }
    if (source->sizes() != item.value().sizes()) {
      return MakeError(ErrorCode::kBadArgument,
                       absl::StrCat("Error(s) in loading state_dict for ", model.name(),
                                    ":\n\tsize mismatch for ", item.key(),
                                    ": copying a param with shape [",
                                    absl::StrJoin(source->sizes(), ", "),
                                    "] from checkpoint, the shape in current model is [",
                                    absl::StrJoin(item.value().sizes(), ", "), "]."));
    }
    SAFETENSORS_RETURN_IF_ERROR(CallTorch("copying into the model", [&] {
                                  torch::NoGradGuard no_grad;
                                  at::Tensor target = item.value();
                                  target.copy_(*source);
                                  return true;
                                }).status());
  }
  for (const auto& item : file) {
    if (!state.contains(item.key())) unexpected.push_back(item.key());
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
    std::string error = absl::StrCat("Error(s) in loading state_dict for ", model.name(), ":");
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

}  // namespace safetensors
