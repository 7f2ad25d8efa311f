#include "parser/error.h"

#include <cerrno>
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

TEST(ErrorTest, NamesRoundTripAndMapOntoReferenceClasses) {
  for (int i = static_cast<int>(ErrorCode::kHeaderTooSmall);
       i <= static_cast<int>(ErrorCode::kInvalidArgument); ++i) {
    const ErrorCode code = static_cast<ErrorCode>(i);
    EXPECT_EQ(ErrorCodeFromName(ErrorCodeName(code)), code) << i;
  }
  EXPECT_EQ(ReferenceErrorClass(ErrorCode::kInvalidUtf8), "InvalidHeader");
  EXPECT_EQ(ReferenceErrorClass(ErrorCode::kInvalidJson), "InvalidHeaderDeserialization");
  EXPECT_EQ(ReferenceErrorClass(ErrorCode::kInvalidSchema), "InvalidHeaderDeserialization");
  EXPECT_EQ(ReferenceErrorClass(ErrorCode::kDuplicateKey), "InvalidHeaderDeserialization");
  EXPECT_EQ(ReferenceErrorClass(ErrorCode::kMetadataIncompleteBuffer),
            "MetadataIncompleteBuffer");
  EXPECT_EQ(ErrorCodeFromName("NoSuchCode"), std::nullopt);
}

TEST(ErrorTest, QuoteForMessageEscapesAndCuts) {
  EXPECT_EQ(QuoteForMessage("w"), "\"w\"");
  EXPECT_EQ(QuoteForMessage(std::string("a\"\\\n\0b", 6)), "\"a\\\"\\\\\\x0a\\x00b\"");
  EXPECT_EQ(QuoteForMessage("\xC3\xA9"), "\"\xC3\xA9\"");
  // 99 ASCII bytes then a 2-byte character straddling the cut: cut before it.
  const std::string text = std::string(99, 'a') + "\xC3\xA9" + "tail";
  EXPECT_EQ(QuoteForMessage(text), "\"" + std::string(99, 'a') + "\"... (105 bytes)");
}

}  // namespace
}  // namespace safetensors
