// LibTorch reports failures by throwing c10::Error; this project's API never
// lets an exception out. CallTorch runs a LibTorch call and turns anything it
// throws into a status.
#ifndef SAFETENSORS_TORCH_IO_TORCH_ERRORS_H_
#define SAFETENSORS_TORCH_IO_TORCH_ERRORS_H_

#include <exception>
#include <new>
#include <string>
#include <utility>

#include <c10/util/Exception.h>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "parser/error.h"

namespace safetensors {
namespace internal {

// The status for an exception thrown while `what` (e.g. "allocating a
// tensor"): kBadArgument for LibTorch's own errors (it throws c10::Error for
// what it was asked to do, such as an unknown device), kOutOfMemory for a
// failed allocation, kInternal for anything else (not expected from LibTorch).
inline absl::Status StatusFromCurrentException(absl::string_view what) {
  try {
    throw;
  } catch (const c10::Error& e) {
    return MakeError(ErrorCode::kBadArgument,
                     absl::StrCat("LibTorch failed ", what, ": ", e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    return MakeError(ErrorCode::kOutOfMemory, absl::StrCat("out of memory ", what));
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal,
                     absl::StrCat("unexpected exception ", what, ": ", e.what()));
  } catch (...) {
    return MakeError(ErrorCode::kInternal,
                     absl::StrCat("unexpected non-standard exception ", what));
  }
}

}  // namespace internal

// Calls `fn`, returning its result, or the status of what it threw.
template <typename Fn>
auto CallTorch(absl::string_view what, Fn&& fn) -> absl::StatusOr<decltype(fn())> {
  try {
    return std::forward<Fn>(fn)();
  } catch (...) {
    return internal::StatusFromCurrentException(what);
  }
}

}  // namespace safetensors

#endif  // SAFETENSORS_TORCH_IO_TORCH_ERRORS_H_
