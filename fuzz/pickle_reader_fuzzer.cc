// Arbitrary bytes as a pickle -> ReadPickle, and what an accepted pickle
// guarantees: it ends inside the input at a STOP; every value id refers to a
// value; calls are of globals and argument tuples; dicts hold pairs; every
// GLOBAL is recorded at an offset inside the input. A refusal is InvalidPickle.
#include <cstdint>
#include <cstring>
#include <memory>

#include "fuzz/header_invariants.h"
#include "parser/error.h"
#include "parser/pickle_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safetensors;
  using fuzzing::Require;
  std::unique_ptr<uint8_t[]> copy(new uint8_t[size]);
  if (size > 0) std::memcpy(copy.get(), data, size);
  PickleLimits limits;
  limits.max_values = 1 << 16;  // bounded memory per input
  const absl::StatusOr<Pickle> pickle = ReadPickle(absl::MakeConstSpan(copy.get(), size), 0, limits);
  if (!pickle.ok()) {
    Require(GetErrorCode(pickle.status()) == ErrorCode::kInvalidPickle, "refusals are InvalidPickle");
    return 0;
  }
  Require(pickle->size >= 3 && pickle->size <= size && copy[pickle->size - 1] == '.', "ends at its STOP");
  Require(pickle->root < pickle->values.size(), "the root is a value");
  Require(pickle->values.size() <= limits.max_values, "the value limit holds");
  for (const PickleValue& value : pickle->values) {
    Require(value.offset < pickle->size, "values made inside the pickle");
    for (PickleId item : value.items) Require(item < pickle->values.size(), "items are values");
    Require(value.state == kNoValue || value.state < pickle->values.size(), "state is a value");
    if (value.kind == PickleKind::kDict) Require(value.items.size() % 2 == 0, "dicts hold pairs");
    if (value.kind == PickleKind::kCall) {
      Require(value.items.size() == 2, "a call has a callable and arguments");
      Require(pickle->value(value.items[0]).kind == PickleKind::kGlobal, "callables are globals");
      Require(pickle->value(value.items[1]).kind == PickleKind::kTuple, "arguments are tuples");
    }
  }
  for (const PickleGlobal& global : pickle->globals) {
    Require(global.offset < pickle->size && copy[global.offset] == 'c', "globals at their opcode");
  }
  (void)DescribePickleValue(*pickle, pickle->root);
  return 0;
}
