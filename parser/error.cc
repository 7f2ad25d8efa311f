#include "parser/error.h"

#include <array>
#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "parser/utf8.h"

namespace safetensors {
namespace {

constexpr absl::string_view kPayloadUrl = "safetensors-cpp/ErrorCode";

struct CodeInfo {
  absl::string_view name;
  absl::string_view reference_class;
  absl::StatusCode status_code;
};

// A switch without a default: a code added to the enum but not here fails to
// compile (-Werror=switch).
std::optional<CodeInfo> Info(ErrorCode code) {
  constexpr absl::StatusCode kBadInput = absl::StatusCode::kInvalidArgument;
  switch (code) {
    case ErrorCode::kHeaderTooSmall:
      return CodeInfo{"HeaderTooSmall", "HeaderTooSmall", kBadInput};
    case ErrorCode::kHeaderTooLarge:
      return CodeInfo{"HeaderTooLarge", "HeaderTooLarge", kBadInput};
    case ErrorCode::kInvalidHeaderLength:
      return CodeInfo{"InvalidHeaderLength", "InvalidHeaderLength", kBadInput};
    case ErrorCode::kInvalidUtf8:
      return CodeInfo{"InvalidUtf8", "InvalidHeader", kBadInput};
    case ErrorCode::kInvalidJson:
      return CodeInfo{"InvalidJson", "InvalidHeaderDeserialization", kBadInput};
    case ErrorCode::kInvalidSchema:
      return CodeInfo{"InvalidSchema", "InvalidHeaderDeserialization", kBadInput};
    case ErrorCode::kDuplicateKey:
      return CodeInfo{"DuplicateKey", "InvalidHeaderDeserialization", kBadInput};
    case ErrorCode::kInvalidOffset:
      return CodeInfo{"InvalidOffset", "InvalidOffset", kBadInput};
    case ErrorCode::kValidationOverflow:
      return CodeInfo{"ValidationOverflow", "ValidationOverflow", kBadInput};
    case ErrorCode::kMisalignedSlice:
      return CodeInfo{"MisalignedSlice", "MisalignedSlice", kBadInput};
    case ErrorCode::kTensorInvalidInfo:
      return CodeInfo{"TensorInvalidInfo", "TensorInvalidInfo", kBadInput};
    case ErrorCode::kMetadataIncompleteBuffer:
      return CodeInfo{"MetadataIncompleteBuffer", "MetadataIncompleteBuffer", kBadInput};
    case ErrorCode::kTensorNotFound:
      return CodeInfo{"TensorNotFound", "TensorNotFound", absl::StatusCode::kNotFound};
    case ErrorCode::kIoError:
      return CodeInfo{"IoError", "IoError", absl::StatusCode::kUnknown};
    case ErrorCode::kUnsupportedDtype:
      return CodeInfo{"UnsupportedDtype", "", absl::StatusCode::kUnimplemented};
    case ErrorCode::kInvalidTensor:
      return CodeInfo{"InvalidTensor", "", kBadInput};
    case ErrorCode::kBadArgument:
      return CodeInfo{"BadArgument", "", kBadInput};
    case ErrorCode::kOutOfMemory:
      return CodeInfo{"OutOfMemory", "", absl::StatusCode::kResourceExhausted};
    case ErrorCode::kInternal:
      return CodeInfo{"Internal", "", absl::StatusCode::kInternal};
    case ErrorCode::kIndexTooLarge:
      return CodeInfo{"IndexTooLarge", "", kBadInput};
    case ErrorCode::kInvalidShardName:
      return CodeInfo{"InvalidShardName", "", kBadInput};
    case ErrorCode::kMissingShard:
      return CodeInfo{"MissingShard", "", absl::StatusCode::kNotFound};
    case ErrorCode::kTensorNotInShard:
      return CodeInfo{"TensorNotInShard", "", kBadInput};
    case ErrorCode::kTensorInTwoShards:
      return CodeInfo{"TensorInTwoShards", "", kBadInput};
    case ErrorCode::kUnlistedTensor:
      return CodeInfo{"UnlistedTensor", "", kBadInput};
    case ErrorCode::kNotRegularFile:
      return CodeInfo{"NotRegularFile", "", absl::StatusCode::kFailedPrecondition};
    case ErrorCode::kFileTruncated:
      return CodeInfo{"FileTruncated", "", absl::StatusCode::kDataLoss};
    case ErrorCode::kUnsupportedFormat:
      return CodeInfo{"UnsupportedFormat", "", absl::StatusCode::kInvalidArgument};
    case ErrorCode::kInvalidArchive:
      return CodeInfo{"InvalidArchive", "", absl::StatusCode::kInvalidArgument};
    case ErrorCode::kInvalidPickle:
      return CodeInfo{"InvalidPickle", "", absl::StatusCode::kInvalidArgument};
    case ErrorCode::kRefusedGlobal:
      return CodeInfo{"RefusedGlobal", "", absl::StatusCode::kPermissionDenied};
    case ErrorCode::kInvalidStorage:
      return CodeInfo{"InvalidStorage", "", absl::StatusCode::kInvalidArgument};
  }
  return std::nullopt;  // a value outside the enum
}

constexpr std::array<ErrorCode, kNumErrorCodes> MakeAllCodes() {
  std::array<ErrorCode, kNumErrorCodes> codes{};
  for (int i = 0; i < kNumErrorCodes; ++i) codes[static_cast<size_t>(i)] = static_cast<ErrorCode>(i + 1);
  return codes;
}

constexpr std::array<ErrorCode, kNumErrorCodes> kAllCodes = MakeAllCodes();

absl::Status WithPayload(absl::StatusCode status_code, ErrorCode code,
                         absl::string_view message) {
  absl::Status status(status_code, message);
  status.SetPayload(kPayloadUrl, absl::Cord(ErrorCodeName(code)));
  return status;
}

}  // namespace

absl::Span<const ErrorCode> AllErrorCodes() { return kAllCodes; }

absl::string_view ErrorCodeName(ErrorCode code) {
  const std::optional<CodeInfo> info = Info(code);
  return info.has_value() ? info->name : "Unknown";
}

std::optional<ErrorCode> ErrorCodeFromName(absl::string_view name) {
  for (ErrorCode code : kAllCodes) {
    if (Info(code)->name == name) return code;
  }
  return std::nullopt;
}

absl::string_view ReferenceErrorClass(ErrorCode code) {
  const std::optional<CodeInfo> info = Info(code);
  return info.has_value() ? info->reference_class : "";
}

absl::Status MakeError(ErrorCode code, absl::string_view message) {
  const std::optional<CodeInfo> info = Info(code);
  return WithPayload(info.has_value() ? info->status_code : absl::StatusCode::kInternal,
                     code, message);
}

absl::Status MakeIoError(int errno_value, absl::string_view message) {
  return WithPayload(absl::ErrnoToStatusCode(errno_value), ErrorCode::kIoError,
                     absl::StrCat(message, ": ", std::strerror(errno_value)));
}

absl::Status AddContext(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  absl::Status out(status.code(), absl::StrCat(context, ": ", status.message()));
  status.ForEachPayload([&out](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

std::optional<ErrorCode> GetErrorCode(const absl::Status& status) {
  // absl::optional, not std::optional: Debian's Abseil keeps its own type.
  auto payload = status.GetPayload(kPayloadUrl);
  if (!payload.has_value()) return std::nullopt;
  return ErrorCodeFromName(std::string(*payload));
}

namespace {

// Appends `text` escaped as EscapeText describes, and `"` as \" when
// `escape_quote`.
void AppendEscaped(absl::string_view text, bool escape_quote, std::string& out) {
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    uint32_t code_point;
    if (c == '\\' || (escape_quote && c == '"')) {
      out.push_back('\\');
      out.push_back(c);
      ++i;
    } else if (const size_t length = TerminalControlAt(text, i, &code_point); length == 1) {
      absl::StrAppend(&out, "\\x", absl::Hex(code_point, absl::kZeroPad2));
      ++i;
    } else if (length > 1) {
      absl::StrAppend(&out, "\\u", absl::Hex(code_point, absl::kZeroPad4));
      i += length;
    } else {
      out.push_back(c);
      ++i;
    }
  }
}

}  // namespace

std::string QuoteForMessage(absl::string_view text) {
  constexpr size_t kMaxBytes = 100;
  size_t keep = text.size();
  bool truncated = false;
  if (keep > kMaxBytes) {
    keep = kMaxBytes;
    // Back up to a UTF-8 lead byte so the cut never splits a character.
    while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80)
      --keep;
    truncated = true;
  }
  std::string out = "\"";
  AppendEscaped(text.substr(0, keep), /*escape_quote=*/true, out);
  out.push_back('"');
  if (truncated) absl::StrAppend(&out, "... (", text.size(), " bytes)");
  return out;
}

std::string EscapeText(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendEscaped(text, /*escape_quote=*/false, out);
  return out;
}

}  // namespace safetensors
