// The JSON machinery every strict reader in parser/ shares: a bounds-checked
// cursor over UTF-8 bytes, strings with every escape, numbers as serde_json
// (the reference's JSON library) reads them, separators, skipping a value of
// any type with bounded nesting, and errors that name the byte offset. The
// header grammar (header_json.h) and the checkpoint index grammar
// (checkpoint_index.h) are readers built on it. Internal to parser/.
#ifndef SAFETENSORS_PARSER_JSON_READER_H_
#define SAFETENSORS_PARSER_JSON_READER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "parser/byte_cursor.h"
#include "parser/error.h"

namespace safetensors {
namespace internal {

// serde_json's recursion limit: a container at depth 128 (the outermost object
// being depth 1) is an error there, so it is here.
inline constexpr int kMaxNestingDepth = 127;

// Our duplicate-key rule (DESIGN.md: stricter than the reference, which keeps
// the last of two equal keys): every repeated key anywhere in a document is
// reported here, by the reader (fields, metadata keys, keys inside skipped
// values) and by whoever indexes the top-level keys (HeaderBuilder for tensor
// names); Check() decides, once the reference's own checks have passed, and
// names the earliest.
class DuplicateKeys {
 public:
  // A repeated key at file offset `offset`; `message` says which.
  void Found(uint64_t offset, std::string message);
  // OK, or kDuplicateKey for the duplicate at the lowest offset.
  absl::Status Check() const;

 private:
  struct Finding {
    uint64_t offset;
    std::string message;
  };
  std::optional<Finding> first_;
};

// A JSON number as lexed: its text and what its grammar used.
struct NumberToken {
  absl::Span<const uint8_t> text;
  size_t integer_digits = 0;  // digits before any '.' or exponent
  bool negative = false;
  bool has_fraction = false;
  bool has_exponent = false;
};

absl::string_view AsChars(absl::Span<const uint8_t> bytes);

// Whether serde_json keeps `number` (as u64, i64 or a finite f64).
bool FitsSerdeNumber(const NumberToken& number);

// The base of a strict reader: its grammar's rules are the subclass's; the
// input must already be valid UTF-8.
// Takes a number spelled 0|[1-9][0-9]{0,18} that no digit, '.', 'e' or 'E'
// follows: the unsigned integers nearly every document holds. False, with
// `cursor` unmoved, for anything else (JsonReader::ReadU64 then takes the
// 20-digit ones and reports the rest).
inline bool TakePlainU64(ByteCursor& cursor, uint64_t* value) {
  ByteCursor after = cursor;
  const int first = after.Peek();
  const size_t digits = after.TakeDigits(19, value);
  const int next = after.Peek();
  if (digits == 0 || (first == '0' && digits > 1) || (next >= '0' && next <= '9') ||
      next == '.' || next == 'e' || next == 'E') {
    return false;
  }
  cursor = after;
  return true;
}

class JsonReader {
 protected:
  // `json`, the `document` ("header", "index"), starts at byte `file_offset`
  // of its file (for messages).
  JsonReader(absl::string_view document, absl::Span<const uint8_t> json, uint64_t file_offset,
             DuplicateKeys& duplicates)
      : cursor_(json), file_offset_(file_offset), duplicates_(duplicates), document_(document) {}

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
  // The error for a value that is not of the type `wanted`: a schema error
  // when some other JSON value starts here, a syntax error otherwise.
  absl::Status WrongType(absl::string_view wanted) const;

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
  // `where` and `where_more` complete "expected ',' or '}' ..." (two pieces,
  // so that callers never build a string on the path that succeeds).
  absl::StatusOr<bool> ReadSeparator(char close, absl::string_view where,
                                     absl::string_view where_more = {}) {
    SkipWhitespace();
    if (Consume(',')) return true;
    if (ABSL_PREDICT_TRUE(Consume(close))) return false;
    return SyntaxError(absl::StrCat("expected ',' or '", absl::string_view(&close, 1), "' ",
                                    where, where_more));
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
  absl::Status ReadLiteral(absl::string_view word);
  absl::Status LexNumber(NumberToken& number);
  // A key and its ':' (whitespace around both skipped); *key_offset is where
  // the key starts.
  absl::Status ReadKey(std::string& scratch, absl::string_view* key, uint64_t* key_offset);
  // The one lexer of unsigned integers 0|[1-9][0-9]* up to 2^64-1. `what`
  // names the value for errors ("tensor \"w\": shape"); it is called only on
  // an error, so a valid document never pays for the message.
  // Inline: a header holds four or more of these per tensor, nearly all
  // taken by TakePlainU64; the rest (20 digits, and every error) go to
  // ReadU64Slow.
  absl::Status ReadU64(absl::FunctionRef<std::string()> what, uint64_t* value) {
    if (ABSL_PREDICT_TRUE(TakePlainU64(cursor_, value))) return absl::OkStatus();
    return ReadU64Slow(what, value);
  }
  // Validates one JSON value of any type without keeping it, nested at most
  // kMaxNestingDepth levels counting `parent_depth` enclosing containers.
  absl::Status SkipValue(int parent_depth);

  ByteCursor cursor_;
  const uint64_t file_offset_;
  DuplicateKeys& duplicates_;
  const absl::string_view document_;
  std::string value_scratch_;

 private:
  absl::Status ReadU64Slow(absl::FunctionRef<std::string()> what, uint64_t* value);
  absl::Status ReadEscape(std::string& out);
  absl::Status ReadHex4(uint32_t* value);
};

}  // namespace internal
}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_JSON_READER_H_
