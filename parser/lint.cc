#include "parser/lint.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "parser/error.h"
#include "parser/tensor_info.h"

namespace safetensors {

std::vector<std::string> HygieneWarnings(const Header& header) {
  constexpr size_t kMaxListed = 10;
  std::vector<std::string> warnings;
  if (header.data_offset() % 8 != 0) {
    warnings.push_back(absl::StrCat("header is not padded to a multiple of 8 bytes: the data "
                                    "buffer starts at byte ",
                                    header.data_offset()));
  }
  const auto& ignored = header.ignored_fields();
  for (size_t i = 0; i < ignored.size() && i < kMaxListed; ++i) {
    warnings.push_back(absl::StrCat("tensor ", QuoteForMessage(ignored[i].first),
                                    " has unknown field ", QuoteForMessage(ignored[i].second)));
  }
  if (ignored.size() > kMaxListed) {
    warnings.push_back(
        absl::StrCat("... and ", ignored.size() - kMaxListed, " more unknown fields"));
  }
  std::vector<const TensorInfo*> canonical;
  canonical.reserve(header.tensors().size());
  for (const TensorInfo& t : header.tensors()) canonical.push_back(&t);
  std::stable_sort(canonical.begin(), canonical.end(),
                   [](const TensorInfo* a, const TensorInfo* b) {
                     return CanonicalOrderLess(a->dtype, a->name, b->dtype, b->name);
                   });
  for (size_t i = 0; i < canonical.size(); ++i) {
    if (canonical[i] != &header.tensors()[i]) {
      warnings.push_back(absl::StrCat(
          "tensors are not in the canonical writer's order (descending dtype alignment, then "
          "name): ",
          QuoteForMessage(header.tensors()[i].name), " is at position ", i, " instead of ",
          QuoteForMessage(canonical[i]->name)));
      break;
    }
  }
  size_t misaligned = 0;
  for (const TensorInfo& t : header.tensors()) {
    const uint64_t start = header.data_offset() + t.data_begin;
    if (t.num_bytes() == 0 || start % DtypeAlignment(t.dtype) == 0) continue;
    if (++misaligned <= kMaxListed) {
      warnings.push_back(absl::StrCat("tensor ", QuoteForMessage(t.name), " (",
                                      DtypeName(t.dtype), ") starts at byte ", start,
                                      ", not a multiple of ", DtypeAlignment(t.dtype)));
    }
  }
  if (misaligned > kMaxListed) {
    warnings.push_back(
        absl::StrCat("... and ", misaligned - kMaxListed, " more misaligned tensors"));
  }
  return warnings;
}

}  // namespace safetensors
