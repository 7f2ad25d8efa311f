// Structure-aware: builds a plausible header from the fuzzer's choices, so
// that the deep rules (offsets, overflow, sizes, duplicates, metadata) are
// reached rather than stopping at the JSON grammar. Shapes and offsets come
// from edge values near 0, 2^32, 2^61, 2^63 and 2^64-1; names repeat,
// escape, and collide after unescaping; the file size is claimed, not
// allocated, so multi-exabyte files cost nothing.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuzz/choices.h"
#include "fuzz/header_invariants.h"
#include "parser/checked_math.h"
#include "parser/dtype.h"
#include "parser/error.h"
#include "parser/header.h"

namespace safetensors {
namespace fuzzing {
namespace {

constexpr uint64_t kEdges[] = {0,
                               1,
                               2,
                               3,
                               4,
                               7,
                               8,
                               255,
                               256,
                               65535,
                               (uint64_t{1} << 32) - 1,
                               uint64_t{1} << 32,
                               (uint64_t{1} << 32) + 1,
                               (uint64_t{1} << 61) - 1,
                               uint64_t{1} << 61,
                               uint64_t{1} << 62,
                               (uint64_t{1} << 63) - 1,
                               uint64_t{1} << 63,
                               UINT64_MAX - 1,
                               UINT64_MAX};

uint64_t Number(Choices& c) {
  switch (c.Below(4)) {
    case 0:
      return c.Below(17);
    case 1:
      return kEdges[c.Below(sizeof(kEdges) / sizeof(kEdges[0]))];
    case 2:
      return kEdges[c.Below(sizeof(kEdges) / sizeof(kEdges[0]))] + c.Below(3) - 1;
    default:
      return c.U64();
  }
}

// A JSON string literal: a name from a pool with collisions and escapes, or
// raw bytes (possibly invalid UTF-8 or unescaped controls).
std::string Name(Choices& c) {
  static const char* const kPool[] = {
      "\"a\"", "\"\\u0061\"", "\"b\"", "\"w\"", "\"layer.0.weight\"", "\"\"",
      "\"\\u005f_metadata__\"", "\"\xC3\xA9\"", "\"\\u00e9\"", "\"\\ud83d\\ude00\"",
      "\"\\ud800\"", "\"tab\\tx\"", "\"nul\\u0000\"", "\"__metadata__\""};
  if (c.Below(4) != 0) return kPool[c.Below(sizeof(kPool) / sizeof(kPool[0]))];
  std::string raw = c.Bytes(12);
  std::string out = "\"";
  for (char ch : raw) {
    if (ch == '"' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  return out + "\"";
}

std::string DtypeJson(Choices& c) {
  switch (c.Below(16)) {
    case 0:
      return "\"f32\"";
    case 1:
      return "{\"F32\":null}";
    case 2:
      return "\"F32 \"";
    default: {
      const auto all = AllDtypes();
      return absl::StrCat("\"", DtypeName(all[c.Below(all.size())]), "\"");
    }
  }
}

std::string Space(Choices& c) {
  static const char* const kSpaces[] = {"", "", "", "", " ", "\n", "\t\r\n ", "\f"};
  return kSpaces[c.Below(8)];
}

struct Entry {
  std::string name;
  std::string dtype;
  std::vector<uint64_t> shape;
  uint64_t begin = 0, end = 0;
  std::string extra;
};

// Bytes of dtype x shape, saturating at 2^64-1 (the parser decides).
uint64_t SaturatingBytes(const std::string& dtype_json, const std::vector<uint64_t>& shape) {
  uint64_t bits = 32;
  for (Dtype d : AllDtypes()) {
    if (absl::StrCat("\"", DtypeName(d), "\"") == dtype_json) bits = DtypeBits(d);
  }
  uint64_t total = bits;
  for (uint64_t dim : shape) {
    if (!CheckedMul(total, dim, &total)) return UINT64_MAX;
  }
  return total / 8;
}

}  // namespace
}  // namespace fuzzing
}  // namespace safetensors

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace safetensors;
  using namespace safetensors::fuzzing;
  Choices c(data, size);
  std::vector<Entry> entries(c.Below(7));
  uint64_t offset = 0;
  for (Entry& e : entries) {
    e.name = Name(c);
    e.dtype = DtypeJson(c);
    e.shape.resize(c.Below(5));
    for (uint64_t& dim : e.shape) dim = c.Below(3) == 0 ? Number(c) : c.Below(5);
    if (c.Below(4) != 0) {  // mostly a valid layout, so the later rules run
      e.begin = offset;
      const uint64_t bytes = SaturatingBytes(e.dtype, e.shape);
      e.end = CheckedAdd(offset, bytes, &e.end) ? e.end : UINT64_MAX;
      offset = e.end;
    } else {
      e.begin = Number(c);
      e.end = c.Bit() ? e.begin + c.Below(9) : Number(c);
    }
    if (c.Below(6) == 0) {
      e.extra = c.Bit() ? ",\"x\":[1,{\"k\":null,\"k\":-2.5e3},\"s\"]" : ",\"x\":1e400";
    }
  }
  if (c.Bit()) std::reverse(entries.begin(), entries.end());

  std::string json = Space(c) + "{";
  bool first = true;
  auto separator = [&] {
    if (!first) json += ",";
    first = false;
    json += Space(c);
  };
  const uint64_t metadata_mode = c.Below(5);
  if (metadata_mode == 1) {
    separator();
    json += "\"__metadata__\":null";
  } else if (metadata_mode >= 2) {
    separator();
    json += "\"__metadata__\":{";
    const uint64_t pairs = c.Below(4);
    for (uint64_t i = 0; i < pairs; ++i) {
      json += absl::StrCat(i ? "," : "", Name(c), ":", c.Below(8) == 0 ? "1" : Name(c));
    }
    json += "}";
  }
  for (const Entry& e : entries) {
    separator();
    json += absl::StrCat(e.name, Space(c), ":{\"dtype\":", e.dtype, ",\"shape\":[");
    for (size_t i = 0; i < e.shape.size(); ++i) json += absl::StrCat(i ? "," : "", e.shape[i]);
    json += absl::StrCat("],\"data_offsets\":[", e.begin, ",", e.end, "]", e.extra, "}");
  }
  json += "}" + Space(c);

  std::string prefix(8, '\0');
  for (size_t i = 0; i < 8; ++i) prefix[i] = static_cast<char>((json.size() >> (8 * i)) & 0xFF);
  prefix += json;
  // The data buffer is claimed, never allocated: ParseHeader reads only the
  // prefix. Usually exactly what the layout needs, sometimes one off.
  uint64_t file_size = 0;
  const uint64_t delta = c.Below(8);
  if (!CheckedAdd(prefix.size(), offset, &file_size)) file_size = UINT64_MAX;
  if (delta == 1 && file_size < UINT64_MAX) ++file_size;
  if (delta == 2 && file_size > prefix.size()) --file_size;

  const absl::Span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(prefix.data()),
                                        prefix.size());
  absl::StatusOr<Header> header = ParseHeader(bytes, file_size);
  if (header.ok()) {
    CheckHeaderInvariants(*header);
    Require(header->file_size() == file_size, "file size kept");
  } else {
    Require(GetErrorCode(header.status()).has_value(), "every error has a code");
    Require(header.status().code() != absl::StatusCode::kInternal, "no internal errors");
  }
  return 0;
}
