// A reader of the pickle opcodes torch.save writes (protocol 2), building
// inert values: it is not a virtual machine and never calls anything.
//
// GLOBAL only names a callable (a kGlobal value holding "module.name");
// REDUCE records which callable would be applied to which arguments (a kCall
// value) without applying it. The one exception is `collections.OrderedDict`
// applied to no arguments, which becomes an empty kDict, so that SETITEMS and
// BUILD on a state dict read as they do in torch.load. What a kCall means, and
// whether its callable is allowed at all, is decided by the caller
// (parser/torch_pickle.h) from the recorded globals.
//
// Read strictly: PROTO 2 first and only once; the opcodes listed in
// pickle_reader.cc and no others (protocol 3-5 opcodes such as STACK_GLOBAL,
// FRAME or MEMOIZE, and INST/OBJ/NEWOBJ, are refused by name); SETITEM(S)
// only on dicts, APPEND(S) only on lists, BUILD only on dicts and calls;
// strings valid UTF-8; memo indices below a bound; MARK nesting and the value
// count bounded; exactly one value on the stack at STOP. Containers can be
// made to hold themselves (a list appended to itself through the memo): walk
// values with a depth bound.
//
//   absl::StatusOr<Pickle> pickle = ReadPickle(bytes, /*base_offset=*/0, {});
//   const PickleValue& root = pickle->value(pickle->root);
#ifndef SAFETENSORS_PARSER_PICKLE_READER_H_
#define SAFETENSORS_PARSER_PICKLE_READER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace safetensors {

using PickleId = uint32_t;

enum class PickleKind : uint8_t {
  kNone,
  kBool,          // integer is 0 or 1
  kInt,           // integer
  kBigInt,        // a LONG1 wider than 64 bits: text holds its little-endian
                  // two's-complement bytes
  kFloat,         // real
  kString,        // text, UTF-8
  kTuple,         // items
  kList,          // items
  kDict,          // items: key, value, key, value... in insertion order;
                  // state: what BUILD gave it (kNoValue if nothing)
  kGlobal,        // text: "module.name"
  kPersistentId,  // items: the one persistent id value
  kCall,          // items: the callable (a kGlobal), the argument tuple;
                  // state: what BUILD gave it (kNoValue if nothing)
};

inline constexpr PickleId kNoValue = 0xffffffff;

struct PickleValue {
  PickleKind kind = PickleKind::kNone;
  uint64_t offset = 0;  // byte offset of the opcode that made the value
  int64_t integer = 0;
  double real = 0;
  std::string text;
  std::vector<PickleId> items;
  PickleId state = kNoValue;
};

struct PickleLimits {
  uint64_t max_values = uint64_t{1} << 22;     // values made, memo hits excluded
  uint64_t max_memo_index = uint64_t{1} << 22;
  uint64_t max_mark_depth = 256;
  uint64_t max_name_size = 256;                // each line of a GLOBAL
};

struct PickleGlobal {
  std::string name;     // "module.name"
  uint64_t offset = 0;  // of the GLOBAL opcode
};

struct Pickle {
  std::vector<PickleValue> values;
  PickleId root = kNoValue;
  // Every GLOBAL opcode, in stream order (the same name may repeat).
  std::vector<PickleGlobal> globals;
  // Bytes the pickle took, STOP included; the caller decides what may follow.
  uint64_t size = 0;

  const PickleValue& value(PickleId id) const { return values[id]; }
};

// Called with each GLOBAL as it is read; an error stops the reading and is
// returned as is. This is how an allow-list refuses a payload at its first
// name, before any later opcode could fail for another reason.
using PickleGlobalCheck = std::function<absl::Status(const PickleGlobal&)>;

// Reads one pickle from the start of `bytes`, up to and including its STOP.
// Offsets in values and errors are `base_offset` + the position in `bytes`
// (so they are file offsets when `bytes` is a record of a file).
// Errors: kInvalidPickle naming the rule, the opcode and the byte offset;
// whatever `check_global` (if set) returns.
absl::StatusOr<Pickle> ReadPickle(absl::Span<const uint8_t> bytes, uint64_t base_offset,
                                  const PickleLimits& limits,
                                  const PickleGlobalCheck& check_global = nullptr);

// "OrderedDict", "tuple of 3", "int 7": a short description of a value's kind
// for messages and reports.
std::string DescribePickleValue(const Pickle& pickle, PickleId id);

}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_PICKLE_READER_H_
