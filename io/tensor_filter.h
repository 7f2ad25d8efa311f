// An RE2 pattern selecting tensors by name: LoadOptions::tensor_filter and
// `safetensors inspect --filter`. RE2 runs in linear time, so a pattern from
// an untrusted source is safe. No LibTorch.
#ifndef SAFETENSORS_IO_TENSOR_FILTER_H_
#define SAFETENSORS_IO_TENSOR_FILTER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "parser/error.h"
#include "re2/re2.h"

namespace safetensors {
namespace internal {

class TensorFilter {
 public:
  // An empty pattern selects every tensor. Errors: kBadArgument for a
  // pattern RE2 cannot compile.
  static absl::StatusOr<TensorFilter> Compile(const std::string& pattern) {
    if (pattern.empty()) return TensorFilter(nullptr);
    RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_shared<RE2>(re2::StringPiece(pattern.data(), pattern.size()),
                                    options);
    if (!re->ok()) {
      return MakeError(ErrorCode::kBadArgument,
                       absl::StrCat("invalid tensor filter ", QuoteForMessage(pattern),
                                    ": ", re->error()));
    }
    return TensorFilter(std::move(re));
  }

  // Whether the pattern matches anywhere in `name`.
  bool Selects(absl::string_view name) const {
    return re_ == nullptr ||
           RE2::PartialMatch(re2::StringPiece(name.data(), name.size()), *re_);
  }

 private:
  explicit TensorFilter(std::shared_ptr<const RE2> re) : re_(std::move(re)) {}
  std::shared_ptr<const RE2> re_;
};

}  // namespace internal
}  // namespace safetensors

#endif  // SAFETENSORS_IO_TENSOR_FILTER_H_
