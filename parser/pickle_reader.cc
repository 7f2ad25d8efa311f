#include "parser/pickle_reader.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "parser/byte_cursor.h"
#include "parser/error.h"
#include "parser/status_macros.h"
#include "parser/utf8.h"

namespace safetensors {
namespace {

// The opcodes read (pickletools' names), all of protocol 0-2.
enum Opcode : uint8_t {
  kMark = '(',
  kStop = '.',
  kBinFloat = 'G',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kNone = 'N',
  kBinPersId = 'Q',
  kReduce = 'R',
  kShortBinString = 'U',
  kBinUnicode = 'X',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kAppends = 'e',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kEmptyList = ']',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kSetItems = 'u',
  kEmptyDict = '}',
  kEmptyTuple = ')',
  kProto = 0x80,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
};

// Opcodes refused by name: what they are is more useful than "unknown".
absl::string_view RefusedOpcodeName(uint8_t opcode) {
  switch (opcode) {
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL";
    case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";
    case 0x8c: return "SHORT_BINUNICODE";
    case 0x82: case 0x83: case 0x84: return "EXT";
    case 0x8b: return "LONG4";
    case 'B': case 'C': case 0x8e: return "BINBYTES";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    case 'P': return "PERSID";
    default: return "";
  }
}

class Reader {
 public:
  Reader(absl::Span<const uint8_t> bytes, uint64_t base_offset, const PickleLimits& limits,
         const PickleGlobalCheck& check_global)
      : cursor_(bytes), base_offset_(base_offset), limits_(limits), check_global_(check_global) {}

  absl::StatusOr<Pickle> Read() {
    for (;;) {
      opcode_offset_ = base_offset_ + cursor_.position();
      const int next = cursor_.Peek();
      if (next < 0) return Error("the pickle ends without STOP");
      const auto opcode = static_cast<uint8_t>(next);
      (void)cursor_.Advance();
      if (opcode == kStop) break;
      SAFETENSORS_RETURN_IF_ERROR(Step(opcode));
      seen_opcode_ = true;
    }
    if (!marks_.empty()) return Error("STOP with a MARK still open");
    if (stack_.size() != 1) {
      return Error(absl::StrCat("STOP with ", stack_.size(), " values on the stack (1 expected)"));
    }
    pickle_.root = stack_.back();
    pickle_.size = cursor_.position();
    return std::move(pickle_);
  }

 private:
  absl::Status Error(absl::string_view rule) const {
    return MakeError(ErrorCode::kInvalidPickle,
                     absl::StrCat("pickle: ", rule, " (opcode at byte ", opcode_offset_, ")"));
  }

  absl::Status Step(uint8_t opcode) {
    if (!seen_opcode_ && opcode != kProto) return Error("the first opcode is not PROTO");
    switch (opcode) {
      case kProto: {
        uint64_t version = 0;
        if (seen_opcode_) return Error("PROTO after the first opcode");
        SAFETENSORS_RETURN_IF_ERROR(TakeNumber(1, &version));
        if (version != 2) {
          return Error(absl::StrCat("protocol ", version, " (torch.save writes protocol 2)"));
        }
        return absl::OkStatus();
      }
      case kNone: return Push(PickleKind::kNone);
      case kNewTrue:
      case kNewFalse: {
        SAFETENSORS_ASSIGN_OR_RETURN(PickleId id, Make(PickleKind::kBool));
        pickle_.values[id].integer = opcode == kNewTrue ? 1 : 0;
        stack_.push_back(id);
        return absl::OkStatus();
      }
      case kBinInt: return PushInteger(4, /*is_signed=*/true);
      case kBinInt1: return PushInteger(1, /*is_signed=*/false);
      case kBinInt2: return PushInteger(2, /*is_signed=*/false);
      case kLong1: return PushLong1();
      case kBinFloat: return PushFloat();
      case kBinUnicode: return PushString(4);
      case kShortBinString: return PushString(1);
      case kGlobal: return PushGlobal();
      case kEmptyTuple: return Push(PickleKind::kTuple);
      case kEmptyList: return Push(PickleKind::kList);
      case kEmptyDict: return Push(PickleKind::kDict);
      case kTuple1: return PushTupleOfTop(1);
      case kTuple2: return PushTupleOfTop(2);
      case kTuple3: return PushTupleOfTop(3);
      case kMark:
        if (marks_.size() >= limits_.max_mark_depth) {
          return Error(absl::StrCat("MARKs nested deeper than ", limits_.max_mark_depth));
        }
        marks_.push_back(stack_.size());
        return absl::OkStatus();
      case kTuple: {
        SAFETENSORS_ASSIGN_OR_RETURN(std::vector<PickleId> items, PopToMark());
        SAFETENSORS_ASSIGN_OR_RETURN(PickleId id, Make(PickleKind::kTuple));
        pickle_.values[id].items = std::move(items);
        stack_.push_back(id);
        return absl::OkStatus();
      }
      case kAppend: {
        PickleId item = kNoValue;
        SAFETENSORS_RETURN_IF_ERROR(Pop(&item));
        return AddTo(PickleKind::kList, {item});
      }
      case kAppends: {
        SAFETENSORS_ASSIGN_OR_RETURN(std::vector<PickleId> items, PopToMark());
        return AddTo(PickleKind::kList, items);
      }
      case kSetItem: {
        PickleId key = kNoValue;
        PickleId item = kNoValue;
        SAFETENSORS_RETURN_IF_ERROR(Pop(&item));
        SAFETENSORS_RETURN_IF_ERROR(Pop(&key));
        return AddTo(PickleKind::kDict, {key, item});
      }
      case kSetItems: {
        SAFETENSORS_ASSIGN_OR_RETURN(std::vector<PickleId> items, PopToMark());
        if (items.size() % 2 != 0) return Error("SETITEMS with an odd number of values");
        return AddTo(PickleKind::kDict, items);
      }
      case kBinPersId: {
        PickleId pid = kNoValue;
        SAFETENSORS_RETURN_IF_ERROR(Pop(&pid));
        SAFETENSORS_ASSIGN_OR_RETURN(PickleId id, Make(PickleKind::kPersistentId));
        pickle_.values[id].items = {pid};
        stack_.push_back(id);
        return absl::OkStatus();
      }
      case kReduce: return Reduce();
      case kBuild: return Build();
      case kBinPut: return Put(1);
      case kLongBinPut: return Put(4);
      case kBinGet: return Get(1);
      case kLongBinGet: return Get(4);
      default: {
        const absl::string_view name = RefusedOpcodeName(opcode);
        return Error(absl::StrCat("opcode ", name.empty() ? "" : absl::StrCat(name, " "), "0x",
                                  absl::Hex(opcode, absl::kZeroPad2),
                                  " is not read (torch.save writes protocol 2 without it)"));
      }
    }
  }

  absl::Status TakeNumber(size_t width, uint64_t* value) {
    if (!cursor_.TakeLittleEndian(width, value)) return Error("operand runs past the end");
    return absl::OkStatus();
  }

  absl::StatusOr<PickleId> Make(PickleKind kind) {
    if (pickle_.values.size() >= limits_.max_values) {
      return Error(absl::StrCat("more than ", limits_.max_values, " values"));
    }
    PickleValue value;
    value.kind = kind;
    value.offset = opcode_offset_;
    pickle_.values.push_back(std::move(value));
    return static_cast<PickleId>(pickle_.values.size() - 1);
  }

  absl::Status Push(PickleKind kind) {
    SAFETENSORS_ASSIGN_OR_RETURN(PickleId id, Make(kind));
    stack_.push_back(id);
    return absl::OkStatus();
  }

  // Pops one value that is above the innermost MARK.
  absl::Status Pop(PickleId* id) {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) return Error("a value is needed and the stack (above its MARK) is empty");
    *id = stack_.back();
    stack_.pop_back();
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<PickleId>> PopToMark() {
    if (marks_.empty()) return Error("no MARK to pop to");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<PickleId> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }

  absl::Status PushInteger(size_t width, bool is_signed) {
    uint64_t raw = 0;
    SAFETENSORS_RETURN_IF_ERROR(TakeNumber(width, &raw));
    SAFETENSORS_ASSIGN_OR_RETURN(PickleId id, Make(PickleKind::kInt));
    int64_t value = static_cast<int64_t>(raw);
    if (is_signed && width == 4) value = static_cast<int32_t>(static_cast<uint32_t>(raw));
    pickle_.values[id].integer = value;
    stack_.push_back(id);
    return absl::OkStatus();
  }

  // LONG1: a length byte, then that many little-endian two's-complement bytes.
  absl::Status PushLong1() {
    uint64_t length = 0;
    SAFETENSORS_RETURN_IF_ERROR(TakeNumber(1, &length));
    absl::Span<const uint8_t> bytes;
    if (!cursor_.Take(static_cast<size_t>(length), &bytes)) return Error("LONG1 runs past the end");
    if (length > 8) {
      SAFETENSORS_ASSIGN_OR_RETURN(PickleId id, Make(PickleKind::kBigInt));
      pickle_.values[id].text = std::string(TextOf(bytes));
      stack_.push_back(id);
      return absl::OkStatus();
    }
    uint64_t raw = 0;
    (void)ByteCursor(bytes).TakeLittleEndian(bytes.size(), &raw);
    // Sign-extend from the top byte's sign bit.
    if (length > 0 && length < 8 && (bytes[bytes.size() - 1] & 0x80) != 0) {
      raw |= ~uint64_t{0} << (8 * length);
    }
    SAFETENSORS_ASSIGN_OR_RETURN(PickleId id, Make(PickleKind::kInt));
    pickle_.values[id].integer = static_cast<int64_t>(raw);
    stack_.push_back(id);
    return absl::OkStatus();
  }

  // BINFLOAT: an IEEE double, big-endian.
  absl::Status PushFloat() {
    absl::Span<const uint8_t> bytes;
    if (!cursor_.Take(8, &bytes)) return Error("BINFLOAT runs past the end");
    uint64_t bits = 0;
    for (uint8_t byte : bytes) bits = (bits << 8) | byte;
    double real;
    std::memcpy(&real, &bits, sizeof real);
    SAFETENSORS_ASSIGN_OR_RETURN(PickleId id, Make(PickleKind::kFloat));
    pickle_.values[id].real = real;
    stack_.push_back(id);
    return absl::OkStatus();
  }

  absl::Status PushString(size_t length_width) {
    uint64_t length = 0;
    SAFETENSORS_RETURN_IF_ERROR(TakeNumber(length_width, &length));
    absl::Span<const uint8_t> bytes;
    if (length > cursor_.remaining() || !cursor_.Take(static_cast<size_t>(length), &bytes)) {
      return Error(absl::StrCat("a ", length, "-byte string runs past the end"));
    }
    if (FindInvalidUtf8(bytes).has_value()) return Error("string is not UTF-8");
    SAFETENSORS_ASSIGN_OR_RETURN(PickleId id, Make(PickleKind::kString));
    pickle_.values[id].text = std::string(TextOf(bytes));
    stack_.push_back(id);
    return absl::OkStatus();
  }

  // One newline-terminated line of a GLOBAL: printable ASCII, no spaces.
  absl::Status TakeNameLine(std::string* line) {
    const size_t length = cursor_.CountWhile([](uint8_t c) { return c != '\n'; });
    if (length == cursor_.remaining()) return Error("GLOBAL name runs past the end");
    if (length == 0 || length > limits_.max_name_size) {
      return Error(absl::StrCat("GLOBAL name of ", length, " bytes"));
    }
    absl::Span<const uint8_t> bytes;
    (void)cursor_.Take(length, &bytes);
    (void)cursor_.Advance();
    for (uint8_t c : bytes) {
      if (c <= ' ' || c >= 0x7f) return Error("GLOBAL name is not printable ASCII");
    }
    *line = std::string(TextOf(bytes));
    return absl::OkStatus();
  }

  absl::Status PushGlobal() {
    std::string module;
    std::string name;
    SAFETENSORS_RETURN_IF_ERROR(TakeNameLine(&module));
    SAFETENSORS_RETURN_IF_ERROR(TakeNameLine(&name));
    SAFETENSORS_ASSIGN_OR_RETURN(PickleId id, Make(PickleKind::kGlobal));
    pickle_.values[id].text = absl::StrCat(module, ".", name);
    pickle_.globals.push_back({pickle_.values[id].text, opcode_offset_});
    if (check_global_) SAFETENSORS_RETURN_IF_ERROR(check_global_(pickle_.globals.back()));
    stack_.push_back(id);
    return absl::OkStatus();
  }

  absl::Status PushTupleOfTop(size_t count) {
    std::vector<PickleId> items(count);
    for (size_t i = count; i > 0; --i) SAFETENSORS_RETURN_IF_ERROR(Pop(&items[i - 1]));
    SAFETENSORS_ASSIGN_OR_RETURN(PickleId id, Make(PickleKind::kTuple));
    pickle_.values[id].items = std::move(items);
    stack_.push_back(id);
    return absl::OkStatus();
  }

  // APPEND(S) and SETITEM(S): the container is the value under the popped
  // ones, and must be of `kind` (SETITEM on a non-dict is how torch.load's
  // own allow-list was bypassed: CVE-2026-24747).
  absl::Status AddTo(PickleKind kind, absl::Span<const PickleId> items) {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) return Error("no container under the values");
    PickleValue& container = pickle_.values[stack_.back()];
    if (container.kind != kind) {
      return Error(absl::StrCat(kind == PickleKind::kList ? "APPEND" : "SETITEM", " on a ",
                                DescribePickleValue(pickle_, stack_.back())));
    }
    container.items.insert(container.items.end(), items.begin(), items.end());
    return absl::OkStatus();
  }

  absl::Status Reduce() {
    PickleId callable = kNoValue;
    PickleId arguments = kNoValue;
    SAFETENSORS_RETURN_IF_ERROR(Pop(&arguments));
    SAFETENSORS_RETURN_IF_ERROR(Pop(&callable));
    if (pickle_.values[callable].kind != PickleKind::kGlobal) {
      return Error(absl::StrCat("REDUCE of a ", DescribePickleValue(pickle_, callable),
                                " (only a GLOBAL names a callable here)"));
    }
    if (pickle_.values[arguments].kind != PickleKind::kTuple) {
      return Error(absl::StrCat("REDUCE with a ", DescribePickleValue(pickle_, arguments),
                                " for arguments"));
    }
    if (pickle_.values[callable].text == "collections.OrderedDict" &&
        pickle_.values[arguments].items.empty()) {
      return Push(PickleKind::kDict);
    }
    SAFETENSORS_ASSIGN_OR_RETURN(PickleId id, Make(PickleKind::kCall));
    pickle_.values[id].items = {callable, arguments};
    stack_.push_back(id);
    return absl::OkStatus();
  }

  absl::Status Build() {
    PickleId state = kNoValue;
    SAFETENSORS_RETURN_IF_ERROR(Pop(&state));
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) return Error("BUILD without an object");
    PickleValue& object = pickle_.values[stack_.back()];
    if (object.kind != PickleKind::kDict && object.kind != PickleKind::kCall) {
      return Error(absl::StrCat("BUILD on a ", DescribePickleValue(pickle_, stack_.back())));
    }
    if (object.state != kNoValue) return Error("a second BUILD on one object");
    object.state = state;
    return absl::OkStatus();
  }

  absl::Status Put(size_t width) {
    uint64_t index = 0;
    SAFETENSORS_RETURN_IF_ERROR(TakeNumber(width, &index));
    if (index >= limits_.max_memo_index) {
      return Error(absl::StrCat("memo index ", index, " above the limit ", limits_.max_memo_index));
    }
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) return Error("PUT with no value (above its MARK) to remember");
    memo_[index] = stack_.back();
    return absl::OkStatus();
  }

  absl::Status Get(size_t width) {
    uint64_t index = 0;
    SAFETENSORS_RETURN_IF_ERROR(TakeNumber(width, &index));
    auto it = memo_.find(index);
    if (it == memo_.end()) return Error(absl::StrCat("GET of memo index ", index, ", never PUT"));
    stack_.push_back(it->second);
    return absl::OkStatus();
  }

  ByteCursor cursor_;
  const uint64_t base_offset_;
  const PickleLimits& limits_;
  const PickleGlobalCheck& check_global_;
  uint64_t opcode_offset_ = 0;
  bool seen_opcode_ = false;
  Pickle pickle_;
  std::vector<PickleId> stack_;
  std::vector<size_t> marks_;
  absl::flat_hash_map<uint64_t, PickleId> memo_;
};

}  // namespace

absl::StatusOr<Pickle> ReadPickle(absl::Span<const uint8_t> bytes, uint64_t base_offset,
                                  const PickleLimits& limits, const PickleGlobalCheck& check_global) {
  return Reader(bytes, base_offset, limits, check_global).Read();
}

std::string DescribePickleValue(const Pickle& pickle, PickleId id) {
  const PickleValue& value = pickle.value(id);
  switch (value.kind) {
    case PickleKind::kNone: return "None";
    case PickleKind::kBool: return value.integer != 0 ? "bool True" : "bool False";
    case PickleKind::kInt: return absl::StrCat("int ", value.integer);
    case PickleKind::kBigInt: return absl::StrCat("int of ", value.text.size(), " bytes");
    case PickleKind::kFloat: return absl::StrCat("float ", value.real);
    case PickleKind::kString: return absl::StrCat("str ", QuoteForMessage(value.text));
    case PickleKind::kTuple: return absl::StrCat("tuple of ", value.items.size());
    case PickleKind::kList: return absl::StrCat("list of ", value.items.size());
    case PickleKind::kDict: return absl::StrCat("dict of ", value.items.size() / 2);
    case PickleKind::kGlobal: return absl::StrCat("global ", value.text);
    case PickleKind::kPersistentId: return "persistent id";
    case PickleKind::kCall:
      return absl::StrCat("object made by ", pickle.value(value.items[0]).text);
  }
  return "value";
}

}  // namespace safetensors
