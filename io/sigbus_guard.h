// Reading a memory-mapped file without dying when it shrinks. Touching a
// mapped page past the end of its file raises SIGBUS, and another process can
// truncate a file at any moment, so a reader that hashes a mapping (no copy:
// the page cache is read in place) runs its reads under a guard: a SIGBUS
// inside the guarded range on the guarded thread jumps back to the guard,
// which reports it; any other SIGBUS goes to the handler installed before
// this one (or, with none, kills the process as it would have).
//
//   absl::Status s = InstallSigbusGuard();  // once; process-wide
//   const bool completed = RunGuarded(mapping, [&] { Hash(mapping); });
//
// The handler is process-wide state: only a caller that opts in installs it
// (io/file_hash's HashOptions::read_mapped, which the CLI sets).
#ifndef SAFETENSORS_IO_SIGBUS_GUARD_H_
#define SAFETENSORS_IO_SIGBUS_GUARD_H_

#include <cstdint>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/types/span.h"

namespace safetensors {

// Installs the SIGBUS handler, once per process (later calls do nothing).
// Errors: kIoError when sigaction fails.
absl::Status InstallSigbusGuard();

// Runs `read`, which may only read `range` (memory of a file mapping) and
// must not allocate, lock or otherwise leave state behind when cut short.
// Returns false when a SIGBUS in `range` cut it short: the file shrank.
// Requires InstallSigbusGuard(); not reentrant on one thread.
bool RunGuarded(absl::Span<const uint8_t> range, absl::FunctionRef<void()> read);

}  // namespace safetensors

#endif  // SAFETENSORS_IO_SIGBUS_GUARD_H_
