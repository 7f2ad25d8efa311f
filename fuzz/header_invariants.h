// What must hold for every header ParseHeader accepts, checked by the
// fuzzers after each successful parse. A violation is a bug: the check calls
// __builtin_trap(), which every fuzzing engine reports as a crash.
#ifndef SAFETENSORS_FUZZ_HEADER_INVARIANTS_H_
#define SAFETENSORS_FUZZ_HEADER_INVARIANTS_H_

#include "parser/header.h"

namespace safetensors {
namespace fuzzing {

// Tensors lie inside the data buffer, tile it from offset 0 to its end in
// order, have byte sizes equal to dtype x shape, are found by name; and the
// header serializes to a canonical form that parses back to the same
// tensors and metadata, and serializes again to the same bytes.
void CheckHeaderInvariants(const Header& header);

// Traps unless `condition`; `what` names the invariant for a debugger.
void Require(bool condition, const char* what);

}  // namespace fuzzing
}  // namespace safetensors

#endif  // SAFETENSORS_FUZZ_HEADER_INVARIANTS_H_
