#include "parser/header_json.h"

#include <cstddef>
#include <string>
#include <system_error>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/charconv.h"
#include "absl/strings/str_cat.h"
#include "parser/byte_cursor.h"
#include "parser/checked_math.h"
#include "parser/error.h"
#include "parser/status_macros.h"

namespace safetensors {
namespace internal {

void DuplicateKeys::Found(uint64_t offset, std::string message) {
  if (!first_.has_value() || offset < first_->offset) {
    first_ = Finding{offset, std::move(message)};
  }
}

absl::Status DuplicateKeys::Check() const {
  if (ABSL_PREDICT_TRUE(!first_.has_value())) return absl::OkStatus();
  return MakeError(ErrorCode::kDuplicateKey, first_->message);
}

namespace {

bool IsDigit(int c) { return c >= '0' && c <= '9'; }

// True for the bytes a string can hold without an escape.
bool IsPlainStringByte(uint8_t b) { return b != '"' && b != '\\' && b >= 0x20; }

// How many bytes from the cursor can be copied verbatim into a string: up to
// the first '"', '\\' or control character. Eight bytes at a time: for each
// test, (v - 0x01..) & ~v & 0x80.. flags the lowest byte that is zero (for
// v ^ c: equal to c; for v - 0x20..: below 0x20) exactly.
size_t CountPlainStringBytes(const ByteCursor& cursor) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  size_t count = 0;
  uint64_t word;
  while (cursor.PeekWord(&word, count)) {
    const uint64_t quote = word ^ (kOnes * '"');
    const uint64_t backslash = word ^ (kOnes * '\\');
    const uint64_t special = (((quote - kOnes) & ~quote) |
                              ((backslash - kOnes) & ~backslash) |
                              ((word - kOnes * 0x20) & ~word)) &
                             kHigh;
    if (special != 0) {
      return count + static_cast<size_t>(__builtin_ctzll(special) / 8);
    }
    count += 8;
  }
  while (count < cursor.remaining() && IsPlainStringByte(static_cast<uint8_t>(cursor.PeekAt(count)))) {
    ++count;
  }
  return count;
}

// Whether `c` starts some JSON value: if a value of the wrong type starts
// here the header is well-formed JSON but the wrong shape (a schema error),
// otherwise it is not JSON at all (a syntax error).
bool StartsJsonValue(int c) {
  return c == '{' || c == '[' || c == '"' || c == '-' || IsDigit(c) ||
         c == 't' || c == 'f' || c == 'n';
}

absl::string_view JsonTypeName(int c) {
  switch (c) {
    case '{':
      return "an object";
    case '[':
      return "an array";
    case '"':
      return "a string";
    case 't':
    case 'f':
      return "a boolean";
    case 'n':
      return "null";
    default:
      return "a number";
  }
}

struct NumberToken {
  absl::Span<const uint8_t> text;
  size_t integer_digits = 0;  // digits before any '.' or exponent
  bool negative = false;
  bool has_fraction = false;
  bool has_exponent = false;
};

absl::string_view AsChars(absl::Span<const uint8_t> bytes) {
  return absl::string_view(reinterpret_cast<const char*>(bytes.data()),
                           bytes.size());
}

// serde_json reads numbers it keeps (as the reference keeps unknown fields)
// as u64, i64 or f64, and rejects one that is infinite as an f64 ("number out
// of range"); tiny numbers round to zero and pass.
bool FitsSerdeNumber(const NumberToken& number) {
  absl::string_view text = AsChars(number.text);
  if (!number.has_fraction && !number.has_exponent &&
      number.integer_digits <= 19) {
    return true;  // at most 19 digits: fits u64 or i64, or is a finite f64
  }
  double value;
  absl::from_chars_result result =
      absl::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ec != std::errc::result_out_of_range) return true;
  // Out of range is overflow or underflow: only overflow is an error. The
  // decimal exponent of the leading significant digit tells them apart.
  absl::string_view digits = text.substr(number.negative ? 1 : 0);
  const size_t exponent_at = digits.find_first_of("eE");
  absl::string_view mantissa = digits.substr(0, exponent_at);
  int64_t exponent = 0;
  if (exponent_at != absl::string_view::npos) {
    absl::string_view e = digits.substr(exponent_at + 1);
    const bool negative = !e.empty() && e[0] == '-';
    if (!e.empty() && (e[0] == '-' || e[0] == '+')) e.remove_prefix(1);
    // Saturate: any exponent past 10^12 is decisively out of range.
    for (char c : e) {
      exponent = exponent * 10 + (c - '0');
      if (exponent > 1'000'000'000'000) break;
    }
    if (negative) exponent = -exponent;
  }
  int64_t leading;
  if (number.integer_digits > 1 || mantissa[0] != '0') {
    leading = static_cast<int64_t>(number.integer_digits) - 1;
  } else {
    const size_t first_nonzero = mantissa.find_first_not_of("0.");
    if (first_nonzero == absl::string_view::npos) return true;  // zero
    leading = -static_cast<int64_t>(first_nonzero - 1);  // "0.0x": -2
  }
  return leading + exponent <= 0;
}

void AppendUtf8(uint32_t code_point, std::string& out) {
  if (code_point < 0x80) {
    out.push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

class Reader {
 public:
  Reader(absl::Span<const uint8_t> json, uint64_t file_offset,
         StableArena<char>& names, StableArena<uint64_t>& dims, RawHeader& out,
         DuplicateKeys& duplicates)
      : cursor_(json),
        file_offset_(file_offset),
        names_(names),
        dims_(dims),
        out_(out),
        duplicates_(duplicates) {}

  absl::Status ReadDocument();

 private:
  // File offset of the next unread byte.
  uint64_t Offset() const { return file_offset_ + cursor_.position(); }

  absl::Status SyntaxError(absl::string_view what) const {
    return MakeError(ErrorCode::kInvalidJson,
                     absl::StrCat("invalid JSON at byte ", Offset(), ": ", what));
  }
  absl::Status SchemaError(absl::string_view what) const {
    return MakeError(ErrorCode::kInvalidSchema,
                     absl::StrCat(what, " (at byte ", Offset(), ")"));
  }
  // The error for a value that is not of the type `wanted`.
  absl::Status WrongType(absl::string_view wanted) const {
    const int c = cursor_.Peek();
    if (!StartsJsonValue(c)) {
      return SyntaxError(c < 0 ? "unexpected end of header" : "expected a value");
    }
    return SchemaError(absl::StrCat(wanted, ", not ", JsonTypeName(c)));
  }

  void SkipWhitespace() {
    (void)cursor_.Skip(cursor_.CountWhile([](uint8_t b) {
      return b == ' ' || b == '\n' || b == '\r' || b == '\t';
    }));
  }

  absl::Status Expect(char c, absl::string_view what) {
    if (ABSL_PREDICT_FALSE(cursor_.Peek() != c)) return SyntaxError(what);
    cursor_.Advance();
    return absl::OkStatus();
  }

  // If the next byte is `c`, consumes it.
  bool Consume(char c) { return cursor_.Peek() == c && cursor_.Advance(); }

  // After a member or element of a container that `close` ends: true when a
  // ',' says another follows, false when `close` ended the container.
  // `where` completes "expected ',' or '}' ...".
  absl::StatusOr<bool> ReadSeparator(char close, absl::string_view where) {
    SkipWhitespace();
    if (Consume(',')) return true;
    if (ABSL_PREDICT_TRUE(Consume(close))) return false;
    return SyntaxError(absl::StrCat("expected ',' or '", absl::string_view(&close, 1),
                                    "' ", where));
  }

  // Records `key` (at file offset `offset`) as a key of the object whose keys
  // `keys` holds; a repeat goes to duplicates_ as "<where>: duplicate <noun>
  // "key" at byte N".
  void NoteKey(absl::flat_hash_set<std::string>& keys, absl::string_view key,
               uint64_t offset, absl::string_view where, absl::string_view noun) {
    if (ABSL_PREDICT_TRUE(keys.emplace(key).second)) return;
    duplicates_.Found(offset, absl::StrCat(where, ": duplicate ", noun, " ",
                                           QuoteForMessage(key), " at byte ", offset));
  }

  // Reads a string into *out: a view of the input when it has no escapes,
  // else of `scratch`, where it is decoded. Valid until the next read into
  // the same scratch.
  absl::Status ReadString(std::string& scratch, absl::string_view* out);
  absl::Status ReadEscape(std::string& out);
  absl::Status ReadHex4(uint32_t* value);
  absl::Status ReadLiteral(absl::string_view word);
  absl::Status LexNumber(NumberToken& number);
  absl::Status ReadKey(std::string& scratch, absl::string_view* key,
                       uint64_t* key_offset);
  absl::Status ReadTensor(absl::string_view key, uint64_t key_offset);
  absl::Status ReadDtype(absl::string_view tensor, Dtype* dtype);
  absl::Status ReadU64(absl::string_view tensor, absl::string_view field, uint64_t* value);
  absl::Status ReadU64Array(absl::string_view tensor, absl::string_view field,
                            std::vector<uint64_t>& values);
  absl::Status ReadMetadata(uint64_t key_offset);
  absl::Status SkipValue(int parent_depth);

  ByteCursor cursor_;
  const uint64_t file_offset_;
  StableArena<char>& names_;
  StableArena<uint64_t>& dims_;
  RawHeader& out_;
  DuplicateKeys& duplicates_;
  bool seen_metadata_ = false;
  // Scratch buffers for strings with escapes, and for numbers, reused across
  // entries to avoid allocating per tensor.
  std::string key_scratch_;
  std::string field_scratch_;
  std::string value_scratch_;
  std::vector<uint64_t> numbers_;
};

absl::Status Reader::ReadString(std::string& scratch, absl::string_view* out) {
  SAFETENSORS_RETURN_IF_ERROR(Expect('"', "expected a string"));
  absl::Span<const uint8_t> run;
  (void)cursor_.Take(CountPlainStringBytes(cursor_), &run);
  if (cursor_.Peek() == '"') {  // no escapes: the common case, no copy
    cursor_.Advance();
    *out = AsChars(run);
    return absl::OkStatus();
  }
  scratch.assign(AsChars(run).data(), run.size());
  for (;;) {
    const int c = cursor_.Peek();
    if (c == '"') {
      cursor_.Advance();
      *out = scratch;
      return absl::OkStatus();
    }
    if (c == '\\') {
      SAFETENSORS_RETURN_IF_ERROR(ReadEscape(scratch));
    } else if (c < 0) {
      return SyntaxError("unterminated string");
    } else if (c < 0x20) {
      return SyntaxError(absl::StrCat("raw control character 0x",
                                      absl::Hex(c, absl::kZeroPad2),
                                      " in a string (it must be escaped)"));
    }
    (void)cursor_.Take(CountPlainStringBytes(cursor_), &run);
    scratch.append(AsChars(run).data(), run.size());
  }
}

absl::Status Reader::ReadHex4(uint32_t* value) {
  uint32_t result = 0;
  for (int i = 0; i < 4; ++i) {
    const int c = cursor_.Peek();
    uint32_t digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint32_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint32_t>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<uint32_t>(c - 'A' + 10);
    } else {
      return SyntaxError("\\u escape needs four hex digits");
    }
    cursor_.Advance();
    result = result * 16 + digit;
  }
  *value = result;
  return absl::OkStatus();
}

absl::Status Reader::ReadEscape(std::string& out) {
  cursor_.Advance();  // the backslash
  const int c = cursor_.Peek();
  char simple = 0;
  switch (c) {
    case '"':
    case '\\':
    case '/':
      simple = static_cast<char>(c);
      break;
    case 'b':
      simple = '\b';
      break;
    case 'f':
      simple = '\f';
      break;
    case 'n':
      simple = '\n';
      break;
    case 'r':
      simple = '\r';
      break;
    case 't':
      simple = '\t';
      break;
    case 'u':
      break;
    default:
      return SyntaxError("invalid escape in a string");
  }
  cursor_.Advance();
  if (c != 'u') {
    out.push_back(simple);
    return absl::OkStatus();
  }
  uint32_t code_point;
  SAFETENSORS_RETURN_IF_ERROR(ReadHex4(&code_point));
  if (code_point >= 0xDC00 && code_point <= 0xDFFF) {
    return SyntaxError("lone trailing surrogate in a \\u escape");
  }
  if (code_point >= 0xD800 && code_point <= 0xDBFF) {
    uint32_t low = 0;
    if (cursor_.Peek() != '\\' || cursor_.PeekAt(1) != 'u') {
      return SyntaxError("lone leading surrogate in a \\u escape");
    }
    (void)cursor_.Skip(2);
    SAFETENSORS_RETURN_IF_ERROR(ReadHex4(&low));
    if (low < 0xDC00 || low > 0xDFFF) {
      return SyntaxError("lone leading surrogate in a \\u escape");
    }
    code_point = 0x10000 + ((code_point - 0xD800) << 10) + (low - 0xDC00);
  }
  AppendUtf8(code_point, out);
  return absl::OkStatus();
}

absl::Status Reader::ReadLiteral(absl::string_view word) {
  for (char c : word) {
    if (!Consume(c)) return SyntaxError("invalid literal");
  }
  return absl::OkStatus();
}

absl::Status Reader::LexNumber(NumberToken& number) {
  const absl::Span<const uint8_t> start = cursor_.rest();
  number = NumberToken();
  number.negative = Consume('-');
  const size_t integer_start = cursor_.position();
  if (Consume('0')) {
    if (IsDigit(cursor_.Peek())) return SyntaxError("number with a leading zero");
  } else if (IsDigit(cursor_.Peek())) {
    (void)cursor_.Skip(cursor_.CountWhile([](uint8_t b) { return IsDigit(b); }));
  } else {
    return SyntaxError("invalid number");
  }
  number.integer_digits = cursor_.position() - integer_start;
  if (Consume('.')) {
    number.has_fraction = true;
    const size_t digits = cursor_.CountWhile([](uint8_t b) { return IsDigit(b); });
    if (digits == 0) return SyntaxError("invalid number: no digit after '.'");
    (void)cursor_.Skip(digits);
  }
  if (Consume('e') || Consume('E')) {
    number.has_exponent = true;
    if (!Consume('+')) (void)Consume('-');
    const size_t digits = cursor_.CountWhile([](uint8_t b) { return IsDigit(b); });
    if (digits == 0) return SyntaxError("invalid number: no digit in exponent");
    (void)cursor_.Skip(digits);
  }
  number.text = start.first(start.size() - cursor_.remaining());
  return absl::OkStatus();
}

absl::Status Reader::ReadKey(std::string& scratch, absl::string_view* key,
                             uint64_t* key_offset) {
  SkipWhitespace();
  *key_offset = Offset();
  if (cursor_.Peek() != '"') return SyntaxError("expected a string key");
  SAFETENSORS_RETURN_IF_ERROR(ReadString(scratch, key));
  SkipWhitespace();
  SAFETENSORS_RETURN_IF_ERROR(Expect(':', "expected ':' after a key"));
  SkipWhitespace();
  return absl::OkStatus();
}

absl::Status Reader::ReadDocument() {
  SkipWhitespace();
  if (cursor_.Peek() != '{') return WrongType("the header must be a JSON object");
  cursor_.Advance();
  SkipWhitespace();
  if (!Consume('}')) {
    for (;;) {
      uint64_t key_offset;
      absl::string_view key;
      SAFETENSORS_RETURN_IF_ERROR(ReadKey(key_scratch_, &key, &key_offset));
      if (key == "__metadata__") {
        SAFETENSORS_RETURN_IF_ERROR(ReadMetadata(key_offset));
      } else {
        SAFETENSORS_RETURN_IF_ERROR(ReadTensor(key, key_offset));
      }
      SAFETENSORS_ASSIGN_OR_RETURN(const bool more,
                                   ReadSeparator('}', "after a header entry"));
      if (!more) break;
    }
  }
  SkipWhitespace();
  if (!cursor_.AtEnd()) return SyntaxError("trailing characters after the header");
  return absl::OkStatus();
}

absl::Status Reader::ReadTensor(absl::string_view key, uint64_t key_offset) {
  const absl::Span<const char> stored = names_.Copy(key);
  const absl::string_view name(stored.data(), stored.size());
  if (cursor_.Peek() == '[') {
    // serde (the reference) would read this as a positional struct; no
    // writer produces it, so we refuse it rather than guess.
    return SchemaError(absl::StrCat(
        "tensor ", QuoteForMessage(name),
        ": entry is a positional array; it must be an object with dtype, "
        "shape and data_offsets"));
  }
  if (cursor_.Peek() != '{') {
    return WrongType(
        absl::StrCat("tensor ", QuoteForMessage(name), ": entry must be an object"));
  }
  cursor_.Advance();
  TensorInfo tensor{name, Dtype::kBool, {}, 0, 0};
  bool has_dtype = false, has_shape = false, has_offsets = false;
  absl::flat_hash_set<std::string> unknown_fields;  // allocates only if used
  SkipWhitespace();
  if (!Consume('}')) {
    for (;;) {
      SkipWhitespace();
      uint64_t field_offset = Offset();
      absl::string_view field;
      bool* seen = nullptr;
      // Fast path for the three fields as every writer spells them; any
      // other spelling (escapes, spaces before ':') takes ReadKey below and
      // means the same.
      if (cursor_.ConsumePrefix("\"dtype\":")) {
        field = "dtype";
      } else if (cursor_.ConsumePrefix("\"shape\":")) {
        field = "shape";
      } else if (cursor_.ConsumePrefix("\"data_offsets\":")) {
        field = "data_offsets";
      } else {
        SAFETENSORS_RETURN_IF_ERROR(ReadKey(field_scratch_, &field, &field_offset));
      }
      SkipWhitespace();
      if (field == "dtype") {
        seen = &has_dtype;
      } else if (field == "shape") {
        seen = &has_shape;
      } else if (field == "data_offsets") {
        seen = &has_offsets;
      }
      if (seen != nullptr && *seen) {
        return MakeError(ErrorCode::kDuplicateKey,
                         absl::StrCat("tensor ", QuoteForMessage(name),
                                      ": duplicate field \"", field,
                                      "\" at byte ", field_offset));
      }
      if (seen == &has_dtype) {
        SAFETENSORS_RETURN_IF_ERROR(ReadDtype(name, &tensor.dtype));
      } else if (seen == &has_shape) {
        SAFETENSORS_RETURN_IF_ERROR(ReadU64Array(name, "shape", numbers_));
        tensor.shape = dims_.Copy(numbers_);
      } else if (seen == &has_offsets) {
        SAFETENSORS_RETURN_IF_ERROR(ReadU64Array(name, "data_offsets", numbers_));
        if (numbers_.size() != 2) {
          return SchemaError(absl::StrCat(
              "tensor ", QuoteForMessage(name), ": data_offsets has ",
              numbers_.size(), " elements; it must be [begin, end]"));
        }
        tensor.data_begin = numbers_[0];
        tensor.data_end = numbers_[1];
      } else {
        NoteKey(unknown_fields, field, field_offset,
                absl::StrCat("tensor ", QuoteForMessage(name)), "field");
        out_.ignored_fields.emplace_back(name, field);
        // Depth 2: inside the header object and the tensor's object.
        SAFETENSORS_RETURN_IF_ERROR(SkipValue(2));
      }
      if (seen != nullptr) *seen = true;
      SAFETENSORS_ASSIGN_OR_RETURN(const bool more, ReadSeparator('}', "in a tensor entry"));
      if (!more) break;
    }
  }
  for (auto [present, field] : {std::pair<bool, absl::string_view>{has_dtype, "dtype"},
                                {has_shape, "shape"},
                                {has_offsets, "data_offsets"}}) {
    if (!present) {
      return MakeError(ErrorCode::kInvalidSchema,
                       absl::StrCat("tensor ", QuoteForMessage(name), " at byte ",
                                    key_offset, ": missing field \"", field, "\""));
    }
  }
  out_.tensors.push_back(tensor);
  out_.key_offsets.push_back(key_offset);
  return absl::OkStatus();
}

absl::Status Reader::ReadDtype(absl::string_view tensor, Dtype* dtype) {
  if (cursor_.Peek() != '"') {
    // Includes {"F32": null}, which serde reads as an enum variant; no writer
    // produces it.
    return WrongType(absl::StrCat("tensor ", QuoteForMessage(tensor),
                                  ": dtype must be a string such as \"F32\""));
  }
  absl::string_view value;
  SAFETENSORS_RETURN_IF_ERROR(ReadString(value_scratch_, &value));
  std::optional<Dtype> parsed = ParseDtype(value);
  if (!parsed.has_value()) {
    return SchemaError(absl::StrCat("tensor ", QuoteForMessage(tensor),
                                    ": unknown dtype ", QuoteForMessage(value)));
  }
  *dtype = *parsed;
  return absl::OkStatus();
}

// The one lexer of the integers a shape or data_offsets may hold: 0|[1-9][0-9]*
// up to 2^64-1. The loop takes every such number; anything else (sign,
// fraction, exponent, leading zero, more than 2^64-1) goes to the full JSON
// lexer, for a syntax error or, if it is a JSON number, a schema error.
absl::Status Reader::ReadU64(absl::string_view tensor, absl::string_view field,
                             uint64_t* value) {
  const int c = cursor_.Peek();
  if (c != '-' && !IsDigit(c)) {
    return WrongType(absl::StrCat("tensor ", QuoteForMessage(tensor), ": ", field,
                                  " must hold unsigned integers"));
  }
  const ByteCursor before = cursor_;
  uint64_t result = 0;
  bool plain = IsDigit(c) && (c != '0' || !IsDigit(cursor_.PeekAt(1)));
  while (plain && IsDigit(cursor_.Peek())) {
    plain = CheckedMul(result, 10, &result) &&
            CheckedAdd(result, static_cast<uint64_t>(cursor_.Peek() - '0'), &result);
    cursor_.Advance();
    if (result == 0) break;  // a single leading '0'
  }
  const int next = cursor_.Peek();
  if (ABSL_PREDICT_TRUE(plain && next != '.' && next != 'e' && next != 'E')) {
    *value = result;
    return absl::OkStatus();
  }
  cursor_ = before;
  NumberToken number;
  SAFETENSORS_RETURN_IF_ERROR(LexNumber(number));
  return SchemaError(absl::StrCat("tensor ", QuoteForMessage(tensor), ": ", field,
                                  " element ", QuoteForMessage(AsChars(number.text)),
                                  " is not an integer in 0..18446744073709551615"));
}

absl::Status Reader::ReadU64Array(absl::string_view tensor,
                                  absl::string_view field,
                                  std::vector<uint64_t>& values) {
  values.clear();
  if (cursor_.Peek() != '[') {
    return WrongType(absl::StrCat("tensor ", QuoteForMessage(tensor), ": ", field,
                                  " must be an array of unsigned integers"));
  }
  cursor_.Advance();
  SkipWhitespace();
  if (Consume(']')) return absl::OkStatus();
  const std::string where = absl::StrCat("in ", field);
  for (;;) {
    SkipWhitespace();
    uint64_t value;
    SAFETENSORS_RETURN_IF_ERROR(ReadU64(tensor, field, &value));
    values.push_back(value);
    SAFETENSORS_ASSIGN_OR_RETURN(const bool more, ReadSeparator(']', where));
    if (!more) return absl::OkStatus();
  }
}

absl::Status Reader::ReadMetadata(uint64_t key_offset) {
  if (seen_metadata_) {
    return MakeError(ErrorCode::kDuplicateKey,
                     absl::StrCat("duplicate key \"__metadata__\" at byte ",
                                  key_offset));
  }
  seen_metadata_ = true;
  if (cursor_.Peek() == 'n') {
    SAFETENSORS_RETURN_IF_ERROR(ReadLiteral("null"));
    out_.metadata.reset();
    return absl::OkStatus();
  }
  if (cursor_.Peek() != '{') {
    return WrongType("__metadata__ must be an object of strings or null");
  }
  cursor_.Advance();
  MetadataEntries entries;
  absl::flat_hash_set<std::string> keys;
  SkipWhitespace();
  if (!Consume('}')) {
    for (;;) {
      uint64_t entry_offset;
      absl::string_view key, value;
      SAFETENSORS_RETURN_IF_ERROR(ReadKey(field_scratch_, &key, &entry_offset));
      if (cursor_.Peek() != '"') {
        return WrongType(absl::StrCat("__metadata__ value of ",
                                      QuoteForMessage(key), " must be a string"));
      }
      SAFETENSORS_RETURN_IF_ERROR(ReadString(value_scratch_, &value));
      NoteKey(keys, key, entry_offset, "__metadata__", "key");
      entries.emplace_back(key, value);
      SAFETENSORS_ASSIGN_OR_RETURN(const bool more, ReadSeparator('}', "in __metadata__"));
      if (!more) break;
    }
  }
  out_.metadata = std::move(entries);
  return absl::OkStatus();
}

// Validates one JSON value of any type without keeping it (the reference
// ignores unknown fields, but its JSON library still checks them). Iterative,
// with an explicit stack bounded by kMaxNestingDepth.
absl::Status Reader::SkipValue(int parent_depth) {
  struct Frame {
    bool is_object;
    absl::flat_hash_set<std::string> keys;  // duplicate detection
  };
  std::vector<Frame> stack;
  auto read_member_key = [&](Frame& frame) -> absl::Status {
    uint64_t key_offset;
    absl::string_view key;
    SAFETENSORS_RETURN_IF_ERROR(ReadKey(value_scratch_, &key, &key_offset));
    NoteKey(frame.keys, key, key_offset, "inside an unknown field's value", "key");
    return absl::OkStatus();
  };
  for (;;) {
    // A value is due here.
    SkipWhitespace();
    const int c = cursor_.Peek();
    if (c == '{' || c == '[') {
      if (parent_depth + static_cast<int>(stack.size()) + 1 > kMaxNestingDepth) {
        return SyntaxError(
            absl::StrCat("nesting deeper than ", kMaxNestingDepth, " levels"));
      }
      cursor_.Advance();
      stack.push_back(Frame{c == '{', {}});
      SkipWhitespace();
      if (!Consume(c == '{' ? '}' : ']')) {
        if (c == '{') SAFETENSORS_RETURN_IF_ERROR(read_member_key(stack.back()));
        continue;
      }
      stack.pop_back();
    } else if (c == '"') {
      absl::string_view ignored;
      SAFETENSORS_RETURN_IF_ERROR(ReadString(value_scratch_, &ignored));
    } else if (c == 't') {
      SAFETENSORS_RETURN_IF_ERROR(ReadLiteral("true"));
    } else if (c == 'f') {
      SAFETENSORS_RETURN_IF_ERROR(ReadLiteral("false"));
    } else if (c == 'n') {
      SAFETENSORS_RETURN_IF_ERROR(ReadLiteral("null"));
    } else if (c == '-' || IsDigit(c)) {
      NumberToken number;
      SAFETENSORS_RETURN_IF_ERROR(LexNumber(number));
      if (!FitsSerdeNumber(number)) {
        return SyntaxError("number out of range of a double");
      }
    } else {
      return SyntaxError(c < 0 ? "unexpected end of header" : "expected a value");
    }
    // A value is complete: close containers until another value is due.
    for (;;) {
      if (stack.empty()) return absl::OkStatus();
      Frame& top = stack.back();
      SAFETENSORS_ASSIGN_OR_RETURN(
          const bool more, top.is_object ? ReadSeparator('}', "in an object")
                                         : ReadSeparator(']', "in an array"));
      if (more) {
        if (top.is_object) SAFETENSORS_RETURN_IF_ERROR(read_member_key(top));
        break;
      }
      stack.pop_back();
    }
  }
}

}  // namespace

absl::Status ReadHeaderJson(absl::Span<const uint8_t> json,
                            uint64_t file_offset, StableArena<char>& names,
                            StableArena<uint64_t>& dims, RawHeader& out,
                            DuplicateKeys& duplicates) {
  return Reader(json, file_offset, names, dims, out, duplicates).ReadDocument();
}

}  // namespace internal
}  // namespace safetensors
