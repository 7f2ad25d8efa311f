#include "parser/json_reader.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <system_error>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/strings/charconv.h"
#include "parser/checked_math.h"
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

absl::string_view AsChars(absl::Span<const uint8_t> bytes) {
  return absl::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
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

namespace {

bool IsDigit(int c) { return c >= '0' && c <= '9'; }

// True for the bytes a string can hold without an escape.
// How many bytes from the cursor a string holds verbatim: up to the first
// '"', '\\' or control character.
size_t CountPlainStringBytes(const ByteCursor& cursor) {
  return cursor.CountUntilControlOr('"', '\\');
}

// Whether `c` starts some JSON value: if a value of the wrong type starts
// here the document is well-formed JSON but the wrong shape (a schema error),
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

}  // namespace

absl::Status JsonReader::WrongType(absl::string_view wanted) const {
  const int c = cursor_.Peek();
  if (!StartsJsonValue(c)) {
    return SyntaxError(c < 0 ? absl::StrCat("unexpected end of ", document_) : "expected a value");
  }
  return SchemaError(absl::StrCat(wanted, ", not ", JsonTypeName(c)));
}

absl::Status JsonReader::ReadString(std::string& scratch, absl::string_view* out) {
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

absl::Status JsonReader::ReadHex4(uint32_t* value) {
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

absl::Status JsonReader::ReadEscape(std::string& out) {
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

absl::Status JsonReader::ReadLiteral(absl::string_view word) {
  for (char c : word) {
    if (!Consume(c)) return SyntaxError("invalid literal");
  }
  return absl::OkStatus();
}

absl::Status JsonReader::LexNumber(NumberToken& number) {
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

absl::Status JsonReader::ReadKey(std::string& scratch, absl::string_view* key,
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

absl::Status JsonReader::ReadU64Slow(absl::FunctionRef<std::string()> what, uint64_t* value) {
  const int c = cursor_.Peek();
  if (c != '-' && !IsDigit(c)) {
    return WrongType(absl::StrCat(what(), " must hold unsigned integers"));
  }
  // Plain digits: no sign, no leading zero (a lone "0" is fine), not followed
  // by a fraction or exponent, at most 20 digits (2^64-1 has 20).
  const ByteCursor before = cursor_;
  const size_t digits = cursor_.CountWhile([](uint8_t b) { return IsDigit(b); });
  const int next = cursor_.PeekAt(digits);
  absl::Span<const uint8_t> text;
  if (ABSL_PREDICT_TRUE(digits > 0 && digits <= 20 && (c != '0' || digits == 1) &&
                        next != '.' && next != 'e' && next != 'E' &&
                        cursor_.Take(digits, &text))) {
    uint64_t result = 0;
    // Up to 19 digits cannot overflow (10^19 - 1 < 2^64); the 20th is checked.
    const size_t unchecked = std::min<size_t>(digits, 19);
    for (size_t i = 0; i < unchecked; ++i) result = result * 10 + (text[i] - '0');
    if (ABSL_PREDICT_TRUE(digits < 20 ||
                          (CheckedMul(result, 10, &result) &&
                           CheckedAdd(result, static_cast<uint64_t>(text[19] - '0'), &result)))) {
      *value = result;
      return absl::OkStatus();
    }
  }
  // Not a plain u64: the full lexer says why (a syntax error, or a JSON
  // number that is no integer in range).
  cursor_ = before;
  NumberToken number;
  SAFETENSORS_RETURN_IF_ERROR(LexNumber(number));
  return SchemaError(absl::StrCat(what(), " element ", QuoteForMessage(AsChars(number.text)),
                                  " is not an integer in 0..18446744073709551615"));
}

// Validates one JSON value of any type without keeping it (the reference
// ignores unknown fields, but its JSON library still checks them). Iterative,
// with an explicit stack bounded by kMaxNestingDepth.
absl::Status JsonReader::SkipValue(int parent_depth) {
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
      return SyntaxError(c < 0 ? absl::StrCat("unexpected end of ", document_) : "expected a value");
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

}  // namespace internal
}  // namespace safetensors
