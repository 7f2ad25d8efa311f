#include "parser/error.h"

#include <cstring>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace safetensors {
namespace {

constexpr absl::string_view kPayloadUrl = "safetensors-cpp/ErrorCode";

struct CodeInfo {
  ErrorCode code;
  absl::string_view name;
  absl::string_view reference_class;
  absl::StatusCode status_code;
};

constexpr CodeInfo kCodes[] = {
    {ErrorCode::kHeaderTooSmall, "HeaderTooSmall", "HeaderTooSmall",
     absl::StatusCode::kInvalidArgument},
    {ErrorCode::kHeaderTooLarge, "HeaderTooLarge", "HeaderTooLarge",
     absl::StatusCode::kInvalidArgument},
    {ErrorCode::kInvalidHeaderLength, "InvalidHeaderLength",
     "InvalidHeaderLength", absl::StatusCode::kInvalidArgument},
    {ErrorCode::kInvalidUtf8, "InvalidUtf8", "InvalidHeader",
     absl::StatusCode::kInvalidArgument},
    {ErrorCode::kInvalidJson, "InvalidJson", "InvalidHeaderDeserialization",
     absl::StatusCode::kInvalidArgument},
    {ErrorCode::kInvalidSchema, "InvalidSchema",
     "InvalidHeaderDeserialization", absl::StatusCode::kInvalidArgument},
    {ErrorCode::kDuplicateKey, "DuplicateKey", "InvalidHeaderDeserialization",
     absl::StatusCode::kInvalidArgument},
    {ErrorCode::kInvalidOffset, "InvalidOffset", "InvalidOffset",
     absl::StatusCode::kInvalidArgument},
    {ErrorCode::kValidationOverflow, "ValidationOverflow",
     "ValidationOverflow", absl::StatusCode::kInvalidArgument},
    {ErrorCode::kMisalignedSlice, "MisalignedSlice", "MisalignedSlice",
     absl::StatusCode::kInvalidArgument},
    {ErrorCode::kTensorInvalidInfo, "TensorInvalidInfo", "TensorInvalidInfo",
     absl::StatusCode::kInvalidArgument},
    {ErrorCode::kMetadataIncompleteBuffer, "MetadataIncompleteBuffer",
     "MetadataIncompleteBuffer", absl::StatusCode::kInvalidArgument},
    {ErrorCode::kTensorNotFound, "TensorNotFound", "TensorNotFound",
     absl::StatusCode::kNotFound},
    {ErrorCode::kIoError, "IoError", "IoError", absl::StatusCode::kUnknown},
    {ErrorCode::kUnsupportedDtype, "UnsupportedDtype", "",
     absl::StatusCode::kUnimplemented},
    {ErrorCode::kInvalidTensor, "InvalidTensor", "",
     absl::StatusCode::kInvalidArgument},
    {ErrorCode::kInvalidArgument, "InvalidArgument", "",
     absl::StatusCode::kInvalidArgument},
};

const CodeInfo* Find(ErrorCode code) {
  for (const CodeInfo& info : kCodes) {
    if (info.code == code) return &info;
  }
  return nullptr;
}

absl::Status WithPayload(absl::StatusCode status_code, ErrorCode code,
                         absl::string_view message) {
  absl::Status status(status_code, message);
  status.SetPayload(kPayloadUrl, absl::Cord(ErrorCodeName(code)));
  return status;
}

}  // namespace

absl::string_view ErrorCodeName(ErrorCode code) {
  const CodeInfo* info = Find(code);
  return info == nullptr ? "Unknown" : info->name;
}

std::optional<ErrorCode> ErrorCodeFromName(absl::string_view name) {
  for (const CodeInfo& info : kCodes) {
    if (info.name == name) return info.code;
  }
  return std::nullopt;
}

absl::string_view ReferenceErrorClass(ErrorCode code) {
  const CodeInfo* info = Find(code);
  return info == nullptr ? "" : info->reference_class;
}

absl::Status MakeError(ErrorCode code, absl::string_view message) {
  const CodeInfo* info = Find(code);
  return WithPayload(
      info == nullptr ? absl::StatusCode::kInternal : info->status_code, code,
      message);
}

absl::Status MakeIoError(int errno_value, absl::string_view message) {
  return WithPayload(absl::ErrnoToStatusCode(errno_value), ErrorCode::kIoError,
                     absl::StrCat(message, ": ", std::strerror(errno_value)));
}

std::optional<ErrorCode> GetErrorCode(const absl::Status& status) {
  // absl::optional, not std::optional: Debian's Abseil keeps its own type.
  auto payload = status.GetPayload(kPayloadUrl);
  if (!payload.has_value()) return std::nullopt;
  return ErrorCodeFromName(std::string(*payload));
}

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
  for (char c : text.substr(0, keep)) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20 || byte == 0x7F) {
      absl::StrAppend(&out, "\\x", absl::Hex(byte, absl::kZeroPad2));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  if (truncated) absl::StrAppend(&out, "... (", text.size(), " bytes)");
  return out;
}

}  // namespace safetensors
