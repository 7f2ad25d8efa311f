#include "parser/header.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"
#include "parser/byte_cursor.h"
#include "parser/error.h"
#include "parser/header_json.h"
#include "parser/status_macros.h"
#include "parser/utf8.h"

namespace safetensors {

bool operator==(const Header& a, const Header& b) {
  return a.header_size_ == b.header_size_ && a.file_size_ == b.file_size_ &&
         a.metadata_ == b.metadata_ && a.ignored_fields_ == b.ignored_fields_ &&
         std::equal(a.tensors_.begin(), a.tensors_.end(), b.tensors_.begin(),
                    b.tensors_.end());
}

const TensorInfo* Header::Find(absl::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[*it];
}

void Header::BuildIndex() {
  index_ = internal::MakeNameIndex<TensorInfo, size_t, &Header::NameOf>(tensors_);
  for (size_t i = 0; i < tensors_.size(); ++i) index_.insert(i);
}

namespace {

std::string OffsetsForMessage(const TensorInfo& t) {
  return absl::StrCat("data_offsets [", t.data_begin, ", ", t.data_end, "]");
}

}  // namespace

// Turns the reader's output into a Header, applying the layout rules.
class HeaderBuilder {
 public:
  static absl::StatusOr<Header> Build(absl::Span<const uint8_t> json,
                                      uint64_t header_size, uint64_t file_size);

 private:
  static absl::Status CheckLayoutAsReference(Header& header);
  static absl::Status CheckStrictRules(const Header& header,
                                       const internal::DuplicateKeys& duplicates);
};

absl::StatusOr<Header> HeaderBuilder::Build(absl::Span<const uint8_t> json,
                                            uint64_t header_size,
                                            uint64_t file_size) {
  Header header;
  header.header_size_ = header_size;
  header.file_size_ = file_size;
  internal::RawHeader raw;
  internal::DuplicateKeys duplicates;
  // Reserve once rather than grow by doubling (which holds up to twice the
  // memory while copying): every tensor entry holds a '{', and none is
  // shorter than kMinTensorEntryBytes, so the smaller count bounds the
  // number of tensors.
  constexpr size_t kMinTensorEntryBytes =
      sizeof(R"("":{"dtype":"F4","shape":[],"data_offsets":[0,0]})") - 1;
  const size_t capacity = std::min<size_t>(
      ByteCursor(json).Count('{'),
      json.size() / kMinTensorEntryBytes);
  raw.tensors.reserve(capacity);
  raw.key_offsets.reserve(capacity);
  SAFETENSORS_RETURN_IF_ERROR(internal::ReadHeaderJson(
      json, kLengthPrefixSize, header.names_, header.dims_, raw, duplicates));
  header.metadata_ = std::move(raw.metadata);
  header.ignored_fields_ = std::move(raw.ignored_fields);

  // For a repeated tensor name the reference keeps the last entry; keep the
  // same one, so that its checks below see what it sees, and reject the
  // duplicate itself only afterwards.
  header.tensors_ = std::move(raw.tensors);
  std::vector<TensorInfo>& tensors = header.tensors_;
  header.BuildIndex();
  std::vector<bool> superseded;
  if (ABSL_PREDICT_FALSE(header.index_.size() != tensors.size())) {
    superseded.resize(tensors.size());
    Header::NameIndex last =
        internal::MakeNameIndex<TensorInfo, size_t, &Header::NameOf>(tensors);
    for (size_t i = tensors.size(); i-- > 0;) {  // from the end: last wins
      if (last.insert(i).second) continue;
      superseded[i] = true;
      duplicates.Found(
          raw.key_offsets[i],
          absl::StrCat("duplicate tensor name ", QuoteForMessage(tensors[i].name),
                       " at bytes ", raw.key_offsets[i], " and ",
                       raw.key_offsets[*last.find(tensors[i].name)]));
    }
    size_t kept = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      if (!superseded[i]) tensors[kept++] = tensors[i];
    }
    tensors.resize(kept);
  }
  // Writers emit tensors in offset order, so the sort is usually skipped.
  // Ties (zero-sized tensors) keep file order.
  auto by_offsets = [](const TensorInfo& a, const TensorInfo& b) {
    return std::tie(a.data_begin, a.data_end) < std::tie(b.data_begin, b.data_end);
  };
  const bool sorted = std::is_sorted(tensors.begin(), tensors.end(), by_offsets);
  if (!sorted) std::stable_sort(tensors.begin(), tensors.end(), by_offsets);

  SAFETENSORS_RETURN_IF_ERROR(CheckLayoutAsReference(header));
  SAFETENSORS_RETURN_IF_ERROR(CheckStrictRules(header, duplicates));

  // The index holds file positions; make them offset-order positions.
  if (!sorted || !superseded.empty()) header.BuildIndex();
  return header;
}

// The reference's Metadata::validate and its final length check, in its
// order, so a file it rejects gets the same error class here.
absl::Status HeaderBuilder::CheckLayoutAsReference(Header& header) {
  uint64_t expected_begin = 0;
  for (TensorInfo& t : header.tensors_) {
    if (ABSL_PREDICT_FALSE(t.data_begin != expected_begin ||
                           t.data_end < t.data_begin)) {
      absl::string_view problem =
          t.data_end < t.data_begin ? "end before begin"
          : t.data_begin > expected_begin
              ? "leave a gap after the previous tensor, which ends at "
              : "overlap the previous tensor, which ends at ";
      return MakeError(
          ErrorCode::kInvalidOffset,
          absl::StrCat("tensor ", QuoteForMessage(t.name), ": ",
                       OffsetsForMessage(t), " ", problem,
                       t.data_end < t.data_begin ? "" : absl::StrCat(expected_begin),
                       " (offsets are relative to the data buffer at byte ",
                       header.data_offset(), ")"));
    }
    expected_begin = t.data_end;

    SAFETENSORS_ASSIGN_OR_RETURN(const uint64_t bytes,
                                 ReferenceByteSize(t.name, t.dtype, t.shape));
    if (ABSL_PREDICT_FALSE(bytes != t.num_bytes())) {
      return MakeError(
          ErrorCode::kTensorInvalidInfo,
          absl::StrCat("tensor ", QuoteForMessage(t.name), ": dtype ",
                       DtypeName(t.dtype), " and shape ", ShapeForMessage(t.shape),
                       " need ", bytes, " bytes but ", OffsetsForMessage(t),
                       " hold ", t.num_bytes()));
    }
  }
  if (ABSL_PREDICT_FALSE(expected_begin != header.data_size())) {
    return MakeError(
        ErrorCode::kMetadataIncompleteBuffer,
        absl::StrCat("the tensors cover ", expected_begin,
                     " bytes but the data buffer (from byte ", header.data_offset(),
                     " to the end of the file) holds ", header.data_size(),
                     expected_begin < header.data_size() ? " (trailing bytes)"
                                                          : " (truncated file)"));
  }
  return absl::OkStatus();
}

// The rules we enforce where the reference accepts (DESIGN.md).
absl::Status HeaderBuilder::CheckStrictRules(const Header& header,
                                             const internal::DuplicateKeys& duplicates) {
  SAFETENSORS_RETURN_IF_ERROR(duplicates.Check());
  for (const TensorInfo& t : header.tensors_) {
    SAFETENSORS_RETURN_IF_ERROR(CheckSizeIgnoringZeroDims(t.name, t.dtype, t.shape));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> ReadHeaderSize(absl::Span<const uint8_t> first_bytes,
                                        uint64_t file_size,
                                        const ParseOptions& options) {
  if (ABSL_PREDICT_FALSE(first_bytes.size() > file_size)) {
    return MakeError(ErrorCode::kBadArgument,
                     absl::StrCat("given ", first_bytes.size(),
                                  " bytes of a file said to be ", file_size,
                                  " bytes long"));
  }
  if (ABSL_PREDICT_FALSE(file_size < kLengthPrefixSize)) {
    return MakeError(ErrorCode::kHeaderTooSmall,
                     absl::StrCat("file is ", file_size,
                                  " bytes; a safetensors file starts with an "
                                  "8-byte header length"));
  }
  uint64_t header_size;
  if (ABSL_PREDICT_FALSE(!ReadLittleEndian64(first_bytes, &header_size))) {
    return MakeError(ErrorCode::kBadArgument,
                     absl::StrCat("need the file's first 8 bytes, given ",
                                  first_bytes.size()));
  }
  if (ABSL_PREDICT_FALSE(header_size > options.max_header_size)) {
    return MakeError(ErrorCode::kHeaderTooLarge,
                     absl::StrCat("header length ", header_size,
                                  " (bytes 0-7) exceeds the limit of ",
                                  options.max_header_size, " bytes"));
  }
  if (ABSL_PREDICT_FALSE(header_size > file_size - kLengthPrefixSize)) {
    return MakeError(ErrorCode::kInvalidHeaderLength,
                     absl::StrCat("header length ", header_size,
                                  " (bytes 0-7) runs past the end of the ",
                                  file_size, "-byte file"));
  }
  return header_size;
}

absl::StatusOr<Header> ParseHeader(absl::Span<const uint8_t> prefix,
                                   uint64_t file_size,
                                   const ParseOptions& options) {
  SAFETENSORS_ASSIGN_OR_RETURN(const uint64_t header_size,
                               ReadHeaderSize(prefix, file_size, options));
  if (ABSL_PREDICT_FALSE(prefix.size() - kLengthPrefixSize < header_size)) {
    return MakeError(ErrorCode::kBadArgument,
                     absl::StrCat("given the file's first ", prefix.size(),
                                  " bytes; its header needs 8 + ", header_size));
  }
  const absl::Span<const uint8_t> json =
      prefix.subspan(kLengthPrefixSize, static_cast<size_t>(header_size));
  if (std::optional<size_t> bad = FindInvalidUtf8(json); ABSL_PREDICT_FALSE(bad)) {
    return MakeError(ErrorCode::kInvalidUtf8,
                     absl::StrCat("header is not valid UTF-8 at byte ",
                                  kLengthPrefixSize + *bad));
  }
  return HeaderBuilder::Build(json, header_size, file_size);
}

absl::StatusOr<Header> ParseHeader(absl::string_view file,
                                   const ParseOptions& options) {
  const absl::Span<const uint8_t> bytes(
      reinterpret_cast<const uint8_t*>(file.data()), file.size());
  return ParseHeader(bytes, bytes.size(), options);
}

}  // namespace safetensors
