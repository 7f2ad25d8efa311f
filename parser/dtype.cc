#include "parser/dtype.h"

#include <cstddef>

namespace safetensors {
namespace {

struct DtypeInfo {
  Dtype dtype;
  absl::string_view name;
  uint64_t bits;
};

// Indexed by the enum's value.
constexpr DtypeInfo kDtypes[] = {
    {Dtype::kBool, "BOOL", 8},
    {Dtype::kF4, "F4", 4},
    {Dtype::kF6_E2M3, "F6_E2M3", 6},
    {Dtype::kF6_E3M2, "F6_E3M2", 6},
    {Dtype::kU8, "U8", 8},
    {Dtype::kI8, "I8", 8},
    {Dtype::kF8_E5M2, "F8_E5M2", 8},
    {Dtype::kF8_E4M3, "F8_E4M3", 8},
    {Dtype::kF8_E8M0, "F8_E8M0", 8},
    {Dtype::kF8_E4M3FNUZ, "F8_E4M3FNUZ", 8},
    {Dtype::kF8_E5M2FNUZ, "F8_E5M2FNUZ", 8},
    {Dtype::kI16, "I16", 16},
    {Dtype::kU16, "U16", 16},
    {Dtype::kF16, "F16", 16},
    {Dtype::kBF16, "BF16", 16},
    {Dtype::kI32, "I32", 32},
    {Dtype::kU32, "U32", 32},
    {Dtype::kF32, "F32", 32},
    {Dtype::kC64, "C64", 64},
    {Dtype::kF64, "F64", 64},
    {Dtype::kI64, "I64", 64},
    {Dtype::kU64, "U64", 64},
};

constexpr Dtype kAll[] = {
    Dtype::kBool,        Dtype::kF4,          Dtype::kF6_E2M3, Dtype::kF6_E3M2,
    Dtype::kU8,          Dtype::kI8,          Dtype::kF8_E5M2, Dtype::kF8_E4M3,
    Dtype::kF8_E8M0,     Dtype::kF8_E4M3FNUZ, Dtype::kF8_E5M2FNUZ,
    Dtype::kI16,         Dtype::kU16,         Dtype::kF16,     Dtype::kBF16,
    Dtype::kI32,         Dtype::kU32,         Dtype::kF32,     Dtype::kC64,
    Dtype::kF64,         Dtype::kI64,         Dtype::kU64,
};

static_assert(sizeof(kDtypes) / sizeof(kDtypes[0]) ==
                  sizeof(kAll) / sizeof(kAll[0]),
              "dtype tables disagree");

constexpr bool TableIsIndexedByEnum() {
  for (size_t i = 0; i < sizeof(kDtypes) / sizeof(kDtypes[0]); ++i) {
    if (static_cast<size_t>(kDtypes[i].dtype) != i || kAll[i] != kDtypes[i].dtype)
      return false;
  }
  return true;
}
static_assert(TableIsIndexedByEnum(), "kDtypes must be indexed by Dtype");

const DtypeInfo& Info(Dtype dtype) {
  return kDtypes[static_cast<size_t>(dtype)];
}

}  // namespace

absl::Span<const Dtype> AllDtypes() { return kAll; }

std::optional<Dtype> ParseDtype(absl::string_view name) {
  // Called once per tensor of every header: compare sizes and first bytes
  // before calling memcmp.
  for (const DtypeInfo& info : kDtypes) {
    if (info.name.size() == name.size() && info.name[0] == name[0] &&
        info.name == name) {
      return info.dtype;
    }
  }
  return std::nullopt;
}

absl::string_view DtypeName(Dtype dtype) { return Info(dtype).name; }

uint64_t DtypeBits(Dtype dtype) { return Info(dtype).bits; }

uint64_t DtypeAlignment(Dtype dtype) { return (Info(dtype).bits + 7) / 8; }

}  // namespace safetensors
