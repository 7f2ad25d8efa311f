// What the C++ benchmark programs share: dying with a message on a failed
// call or a bad argument, so that a measurement is never printed for work
// that did not happen.
#ifndef SAFETENSORS_TOOLS_BENCH_BENCH_UTIL_H_
#define SAFETENSORS_TOOLS_BENCH_BENCH_UTIL_H_

#include <errno.h>  // program_invocation_short_name

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace safetensors {
namespace bench {

[[noreturn]] inline void Die(const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, message.c_str());
  std::exit(1);
}

template <typename T>
T Check(absl::StatusOr<T> value) {
  if (!value.ok()) Die(value.status().ToString());
  return *std::move(value);
}

inline void Check(const absl::Status& status) {
  if (!status.ok()) Die(status.ToString());
}

// A count from the command line (iterations, threads, MiB, a 0/1 flag).
inline int Count(const char* text) {
  int value;
  if (!absl::SimpleAtoi(text, &value) || value < 0) Die(absl::StrCat("not a count: ", text));
  return value;
}

}  // namespace bench
}  // namespace safetensors

#endif  // SAFETENSORS_TOOLS_BENCH_BENCH_UTIL_H_
