#include "parser/error.h"

#include <cerrno>
#include <iterator>
#include <string>

#include "gtest/gtest.h"

namespace safetensors {
namespace {

TEST(ErrorTest, CodeTravelsAsPayload) {
  absl::Status status = MakeError(ErrorCode::kInvalidOffset, "tensor \"w\": gap");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "tensor \"w\": gap");
  EXPECT_EQ(GetErrorCode(status), ErrorCode::kInvalidOffset);
  EXPECT_EQ(GetErrorCode(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(GetErrorCode(absl::InternalError("elsewhere")), std::nullopt);
}

TEST(ErrorTest, CanonicalCodesFollowTheKindOfFailure) {
  EXPECT_EQ(MakeError(ErrorCode::kTensorNotFound, "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(MakeError(ErrorCode::kUnsupportedDtype, "x").code(),
            absl::StatusCode::kUnimplemented);
  absl::Status io = MakeIoError(ENOENT, "open \"f\"");
  EXPECT_EQ(io.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetErrorCode(io), ErrorCode::kIoError);
  EXPECT_NE(io.message().find("open \"f\": "), absl::string_view::npos);
}

// Every code, written out by hand: a code added to the enum without a row
// here fails the static_assert, and each row pins the code's stable name, its
// reference class and its canonical status code.
struct ExpectedCode {
  ErrorCode code;
  absl::string_view name;
  absl::string_view reference_class;
  absl::StatusCode status_code;
};

constexpr absl::StatusCode kBadInput = absl::StatusCode::kInvalidArgument;
constexpr ExpectedCode kExpected[] = {
    {ErrorCode::kHeaderTooSmall, "HeaderTooSmall", "HeaderTooSmall", kBadInput},
    {ErrorCode::kHeaderTooLarge, "HeaderTooLarge", "HeaderTooLarge", kBadInput},
    {ErrorCode::kInvalidHeaderLength, "InvalidHeaderLength", "InvalidHeaderLength", kBadInput},
    {ErrorCode::kInvalidUtf8, "InvalidUtf8", "InvalidHeader", kBadInput},
    {ErrorCode::kInvalidJson, "InvalidJson", "InvalidHeaderDeserialization", kBadInput},
    {ErrorCode::kInvalidSchema, "InvalidSchema", "InvalidHeaderDeserialization", kBadInput},
    {ErrorCode::kDuplicateKey, "DuplicateKey", "InvalidHeaderDeserialization", kBadInput},
    {ErrorCode::kInvalidOffset, "InvalidOffset", "InvalidOffset", kBadInput},
    {ErrorCode::kValidationOverflow, "ValidationOverflow", "ValidationOverflow", kBadInput},
    {ErrorCode::kMisalignedSlice, "MisalignedSlice", "MisalignedSlice", kBadInput},
    {ErrorCode::kTensorInvalidInfo, "TensorInvalidInfo", "TensorInvalidInfo", kBadInput},
    {ErrorCode::kMetadataIncompleteBuffer, "MetadataIncompleteBuffer",
     "MetadataIncompleteBuffer", kBadInput},
    {ErrorCode::kTensorNotFound, "TensorNotFound", "TensorNotFound",
     absl::StatusCode::kNotFound},
    {ErrorCode::kIoError, "IoError", "IoError", absl::StatusCode::kUnknown},
    {ErrorCode::kUnsupportedDtype, "UnsupportedDtype", "", absl::StatusCode::kUnimplemented},
    {ErrorCode::kInvalidTensor, "InvalidTensor", "", kBadInput},
    {ErrorCode::kBadArgument, "BadArgument", "", kBadInput},
    {ErrorCode::kOutOfMemory, "OutOfMemory", "", absl::StatusCode::kResourceExhausted},
    {ErrorCode::kInternal, "Internal", "", absl::StatusCode::kInternal},
    {ErrorCode::kIndexTooLarge, "IndexTooLarge", "", kBadInput},
    {ErrorCode::kInvalidShardName, "InvalidShardName", "", kBadInput},
    {ErrorCode::kMissingShard, "MissingShard", "", absl::StatusCode::kNotFound},
    {ErrorCode::kTensorNotInShard, "TensorNotInShard", "", kBadInput},
    {ErrorCode::kTensorInTwoShards, "TensorInTwoShards", "", kBadInput},
    {ErrorCode::kUnlistedTensor, "UnlistedTensor", "", kBadInput},
    {ErrorCode::kNotRegularFile, "NotRegularFile", "", absl::StatusCode::kFailedPrecondition},
    {ErrorCode::kFileTruncated, "FileTruncated", "", absl::StatusCode::kDataLoss},
    {ErrorCode::kUnsupportedFormat, "UnsupportedFormat", "", absl::StatusCode::kInvalidArgument},
    {ErrorCode::kInvalidArchive, "InvalidArchive", "", absl::StatusCode::kInvalidArgument},
    {ErrorCode::kInvalidPickle, "InvalidPickle", "", absl::StatusCode::kInvalidArgument},
    {ErrorCode::kRefusedGlobal, "RefusedGlobal", "", absl::StatusCode::kPermissionDenied},
    {ErrorCode::kInvalidStorage, "InvalidStorage", "", absl::StatusCode::kInvalidArgument},
};
static_assert(std::size(kExpected) == kNumErrorCodes,
              "a code was added to ErrorCode: give it a row in kExpected");

TEST(ErrorTest, EveryCodeHasItsNameReferenceClassAndStatusCode) {
  ASSERT_EQ(AllErrorCodes().size(), std::size(kExpected));
  for (size_t i = 0; i < std::size(kExpected); ++i) {
    const ExpectedCode& row = kExpected[i];
    SCOPED_TRACE(std::string(row.name));
    EXPECT_EQ(AllErrorCodes()[i], row.code);
    EXPECT_EQ(ErrorCodeName(row.code), row.name);
    EXPECT_EQ(ErrorCodeFromName(row.name), row.code);
    EXPECT_EQ(ReferenceErrorClass(row.code), row.reference_class);
    const absl::Status status = MakeError(row.code, "m");
    EXPECT_EQ(status.code(), row.status_code);
    EXPECT_EQ(GetErrorCode(status), row.code);
  }
  EXPECT_EQ(ErrorCodeFromName("NoSuchCode"), std::nullopt);
  EXPECT_EQ(ErrorCodeName(static_cast<ErrorCode>(kNumErrorCodes + 1)), "Unknown");
}

TEST(ErrorTest, AddContextKeepsTheCode) {
  const absl::Status inner = MakeError(ErrorCode::kInvalidOffset, "tensor \"w\": gap");
  const absl::Status outer = AddContext(inner, "shard \"a.safetensors\"");
  EXPECT_EQ(outer.code(), inner.code());
  EXPECT_EQ(GetErrorCode(outer), ErrorCode::kInvalidOffset);
  EXPECT_EQ(outer.message(), "shard \"a.safetensors\": tensor \"w\": gap");
  EXPECT_TRUE(AddContext(absl::OkStatus(), "x").ok());
}

TEST(ErrorTest, QuoteForMessageEscapesAndCuts) {
  EXPECT_EQ(QuoteForMessage("w"), "\"w\"");
  EXPECT_EQ(QuoteForMessage(std::string("a\"\\\n\0b", 6)), "\"a\\\"\\\\\\x0a\\x00b\"");
  EXPECT_EQ(QuoteForMessage("\xC3\xA9"), "\"\xC3\xA9\"");
  // 99 ASCII bytes then a 2-byte character straddling the cut: cut before it.
  const std::string text = std::string(99, 'a') + "\xC3\xA9" + "tail";
  EXPECT_EQ(QuoteForMessage(text), "\"" + std::string(99, 'a') + "\"... (105 bytes)");
}

TEST(ErrorTest, EscapeTextDisarmsTerminalControls) {
  EXPECT_EQ(EscapeText("fc1.weight"), "fc1.weight");
  EXPECT_EQ(EscapeText("\xC3\xA9\xE2\x82\xAC"), "\xC3\xA9\xE2\x82\xAC");  // é€ kept
  // ESC sequences, backspace, carriage return, DEL.
  EXPECT_EQ(EscapeText("\x1b[2Jhidden\b\r\x7f"), "\\x1b[2Jhidden\\x08\\x0d\\x7f");
  // C1 CSI (U+009B), right-to-left override (U+202E), line separator.
  EXPECT_EQ(EscapeText("a\xC2\x9B" "b\xE2\x80\xAE" "c\xE2\x80\xA8"),
            "a\\u009bb\\u202ec\\u2028");
  EXPECT_EQ(EscapeText("back\\slash \"quote\""), "back\\\\slash \"quote\"");
  // Truncated sequences at the end are kept as they are (not controls).
  EXPECT_EQ(EscapeText("x\xE2\x80"), "x\xE2\x80");
  EXPECT_EQ(QuoteForMessage("\xE2\x80\xAE" "evil"), "\"\\u202e" "evil\"");
}

}  // namespace
}  // namespace safetensors
