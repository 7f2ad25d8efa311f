#include "parser/pickle_checkpoint.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "parser/byte_cursor.h"
#include "parser/checked_math.h"
#include "parser/error.h"
#include "parser/status_macros.h"
#include "parser/zip_archive.h"

namespace safetensors {
namespace {

// What an allowed global is for.
enum class GlobalRole {
  kRebuildTensorV2,
  kRebuildTensorV3,
  kRebuildParameter,
  kRebuildParameterWithState,
  kOrderedDict,
  kTypedStorage,    // a dtype's storage class
  kUntypedStorage,  // bytes; the tensor names the dtype (v3)
  kDtype,
};

struct AllowedGlobal {
  GlobalRole role;
  std::optional<Dtype> dtype;  // for storages and dtypes; nullopt: no safetensors dtype
  uint64_t element_size = 0;   // for typed storages
};

// The allow-list: every global torch.save writes for a state dict of dense
// tensors. Complex128 and the quantized storages are named so that they are
// refused as unsupported dtypes rather than as unknown globals.
const absl::flat_hash_map<std::string, AllowedGlobal>& AllowList() {
  static const auto* const kList = [] {
    auto* list = new absl::flat_hash_map<std::string, AllowedGlobal>{
        {"torch._utils._rebuild_tensor_v2", {GlobalRole::kRebuildTensorV2, std::nullopt, 0}},
        {"torch._utils._rebuild_tensor_v3", {GlobalRole::kRebuildTensorV3, std::nullopt, 0}},
        {"torch._utils._rebuild_parameter", {GlobalRole::kRebuildParameter, std::nullopt, 0}},
        {"torch._utils._rebuild_parameter_with_state",
         {GlobalRole::kRebuildParameterWithState, std::nullopt, 0}},
        {"collections.OrderedDict", {GlobalRole::kOrderedDict, std::nullopt, 0}},
        {"torch.storage.UntypedStorage", {GlobalRole::kUntypedStorage, std::nullopt, 1}},
        {"torch.UntypedStorage", {GlobalRole::kUntypedStorage, std::nullopt, 1}},
    };
    struct Storage {
      const char* name;
      std::optional<Dtype> dtype;
      uint64_t element_size;
    };
    const Storage storages[] = {
        {"Double", Dtype::kF64, 8},  {"Float", Dtype::kF32, 4},       {"Half", Dtype::kF16, 2},
        {"BFloat16", Dtype::kBF16, 2}, {"Long", Dtype::kI64, 8},      {"Int", Dtype::kI32, 4},
        {"Short", Dtype::kI16, 2},   {"Char", Dtype::kI8, 1},         {"Byte", Dtype::kU8, 1},
        {"Bool", Dtype::kBool, 1},   {"ComplexFloat", Dtype::kC64, 8}, {"ComplexDouble", std::nullopt, 16},
        {"QInt8", std::nullopt, 1},  {"QUInt8", std::nullopt, 1},     {"QInt32", std::nullopt, 4},
        {"QUInt4x2", std::nullopt, 1}, {"QUInt2x4", std::nullopt, 1},
    };
    for (const Storage& storage : storages) {
      list->emplace(absl::StrCat("torch.", storage.name, "Storage"),
                    AllowedGlobal{GlobalRole::kTypedStorage, storage.dtype, storage.element_size});
    }
    const std::pair<const char*, std::optional<Dtype>> dtypes[] = {
        {"float64", Dtype::kF64},       {"float32", Dtype::kF32},
        {"float16", Dtype::kF16},       {"bfloat16", Dtype::kBF16},
        {"int64", Dtype::kI64},         {"int32", Dtype::kI32},
        {"int16", Dtype::kI16},         {"int8", Dtype::kI8},
        {"uint8", Dtype::kU8},          {"bool", Dtype::kBool},
        {"uint16", Dtype::kU16},        {"uint32", Dtype::kU32},
        {"uint64", Dtype::kU64},        {"complex64", Dtype::kC64},
        {"complex128", std::nullopt},   {"float8_e4m3fn", Dtype::kF8_E4M3},
        {"float8_e5m2", Dtype::kF8_E5M2}, {"float8_e4m3fnuz", Dtype::kF8_E4M3FNUZ},
        {"float8_e5m2fnuz", Dtype::kF8_E5M2FNUZ}, {"float8_e8m0fnu", Dtype::kF8_E8M0},
    };
    for (const auto& [name, dtype] : dtypes) {
      list->emplace(absl::StrCat("torch.", name), AllowedGlobal{GlobalRole::kDtype, dtype, 0});
    }
    return list;
  }();
  return *kList;
}

// The legacy format's first pickle: this number, as LONG1's bytes.
constexpr uint8_t kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t kLegacyProtocolVersion = 1001;

absl::Status StorageError(absl::string_view message) {
  return MakeError(ErrorCode::kInvalidStorage, message);
}

absl::Status PickleError(const PickleValue& value, absl::string_view rule) {
  return MakeError(ErrorCode::kInvalidPickle,
                   absl::StrCat("pickle: ", rule, " (value made at byte ", value.offset, ")"));
}

// A storage as its persistent ids describe it, before its bytes are found.
struct StorageUse {
  std::string key;
  std::optional<Dtype> dtype;  // nullopt: untyped until a tensor names it, or
                               // a storage class without a safetensors dtype
  std::string type_name;       // its storage class
  uint64_t element_size = 1;   // of the storage class (1 if untyped)
  bool untyped = false;
  uint64_t numel = 0;          // as the id says: elements, or bytes if untyped
  uint64_t offset = 0;         // of the first persistent id naming it
};

class Interpreter {
 public:
  Interpreter(const PickleCheckpointOptions& options, PickleCheckpoint& result)
      : options_(options), result_(result) {}

  // Reads the pickle at the start of `bytes`, checking each global against
  // the allow-list as it is read and recording it.
  absl::StatusOr<Pickle> Read(absl::Span<const uint8_t> bytes, uint64_t offset) {
    return ReadPickle(bytes, offset, options_.limits, [this](const PickleGlobal& global) {
      const bool allowed = AllowList().contains(global.name);
      result_.globals.push_back({global.name, global.offset, allowed});
      if (!allowed && !options_.skip_unknown) {
        return MakeError(ErrorCode::kRefusedGlobal,
                         absl::StrCat("global ", QuoteForMessage(global.name), " at byte ",
                                      global.offset, " is not on the allow-list (only the "
                                      "names torch.save writes for tensors are read)"));
      }
      return absl::OkStatus();
    });
  }

  // Names the tensors of `pickle`'s root object and collects the storages
  // their persistent ids name (legacy_ids: the 6-field ids of the legacy
  // format).
  absl::Status Interpret(const Pickle& pickle, bool legacy_ids) {
    pickle_ = &pickle;
    legacy_ids_ = legacy_ids;
    const PickleValue& root = pickle.value(pickle.root);
    if (root.kind != PickleKind::kDict) {
      return MakeError(ErrorCode::kUnsupportedFormat,
                       absl::StrCat("the checkpoint holds a ", DescribePickleValue(pickle, pickle.root),
                                    ", not a dict of tensors"));
    }
    // Every persistent id names a storage, whether or not a tensor reached
    // from the root uses it (one inside a skipped placeholder, say): each
    // storage record must be accounted for.
    for (PickleId id = 0; id < pickle.values.size(); ++id) {
      if (pickle.value(id).kind != PickleKind::kPersistentId) continue;
      SAFETENSORS_ASSIGN_OR_RETURN(const size_t storage, ReadPersistentId(id));
      storage_of_id_.emplace(id, storage);
    }
    SAFETENSORS_ASSIGN_OR_RETURN(const PickleId tensor_root, FindTensorRoot(pickle.root));
    tensor_root_ = tensor_root;
    return Walk(pickle.root, "", /*depth=*/0, /*under_root=*/pickle.root == tensor_root);
  }

  const std::vector<StorageUse>& storage_uses() const { return storage_uses_; }
  const std::vector<std::optional<Dtype>>& storage_dtypes() const { return storage_dtypes_; }

 private:
  static constexpr int kMaxDepth = 64;

  const PickleValue& V(PickleId id) const { return pickle_->value(id); }

  // The dict value of `key` in dict `dict`, or kNoValue.
  PickleId Lookup(PickleId dict, absl::string_view key) const {
    const PickleValue& d = V(dict);
    for (size_t i = 0; i + 1 < d.items.size(); i += 2) {
      const PickleValue& k = V(d.items[i]);
      if (k.kind == PickleKind::kString && k.text == key) return d.items[i + 1];
    }
    return kNoValue;
  }

  absl::StatusOr<PickleId> FindTensorRoot(PickleId top) {
    if (!options_.key_path.empty()) {
      PickleId at = top;
      for (absl::string_view key : absl::StrSplit(options_.key_path, '.')) {
        at = V(at).kind == PickleKind::kDict ? Lookup(at, key) : kNoValue;
        if (at == kNoValue || V(at).kind != PickleKind::kDict) {
          return MakeError(ErrorCode::kTensorNotFound,
                           absl::StrCat("no dict at key path ", QuoteForMessage(options_.key_path)));
        }
      }
      result_.root_path = options_.key_path;
      return at;
    }
    for (absl::string_view key : {"state_dict", "model", "module"}) {
      const PickleId at = Lookup(top, key);
      if (at != kNoValue && V(at).kind == PickleKind::kDict) {
        result_.root_path = std::string(key);
        return at;
      }
    }
    return top;
  }

  static std::string Join(const std::string& prefix, const std::string& key) {
    return prefix.empty() ? key : absl::StrCat(prefix, ".", key);
  }

  absl::Status Walk(PickleId id, const std::string& path, int depth, bool under_root) {
    if (depth > kMaxDepth) {
      return PickleError(V(id), absl::StrCat("dicts nested deeper than ", kMaxDepth, " (or a cycle)"));
    }
    if (++visits_ > pickle_->values.size() * 2 + 16) {
      return PickleError(V(id), "the same dicts reached over and over through the memo");
    }
    const PickleValue& value = V(id);
    if (value.kind == PickleKind::kDict) {
      for (size_t i = 0; i + 1 < value.items.size(); i += 2) {
        const PickleValue& key = V(value.items[i]);
        std::string name;
        if (key.kind == PickleKind::kString) {
          name = key.text;
        } else if (key.kind == PickleKind::kInt) {
          name = absl::StrCat(key.integer);
        } else {
          result_.others.push_back({Join(path, "?"), absl::StrCat("entry with a ", DescribePickleValue(*pickle_, value.items[i]), " key")});
          continue;
        }
        const PickleId child = value.items[i + 1];
        // Tensor names are relative to the tensor root; other paths are not.
        const bool is_root = child == tensor_root_;
        SAFETENSORS_RETURN_IF_ERROR(
            Walk(child, is_root ? std::string() : Join(path, name), depth + 1, under_root || is_root));
      }
      return absl::OkStatus();
    }
    if (value.kind == PickleKind::kCall) {
      SAFETENSORS_ASSIGN_OR_RETURN(std::optional<PickleTensor> tensor, ReadTensor(id));
      if (!tensor.has_value()) {
        result_.skipped.push_back({path, DescribePickleValue(*pickle_, id)});
        return absl::OkStatus();
      }
      if (!under_root) {
        result_.others.push_back({path, absl::StrCat("tensor outside ", result_.root_path)});
        return absl::OkStatus();
      }
      tensor->name = path;
      if (!names_.insert(path).second) {
        return MakeError(ErrorCode::kDuplicateKey,
                         absl::StrCat("two tensors flatten to the name ", QuoteForMessage(path)));
      }
      result_.tensors.push_back(std::move(*tensor));
      return absl::OkStatus();
    }
    result_.others.push_back({path, DescribePickleValue(*pickle_, id)});
    return absl::OkStatus();
  }

  // The allowed role of a kGlobal value; nullopt when it is not allowed.
  std::optional<AllowedGlobal> RoleOf(PickleId id) const {
    const PickleValue& value = V(id);
    if (value.kind != PickleKind::kGlobal) return std::nullopt;
    auto it = AllowList().find(value.text);
    if (it == AllowList().end()) return std::nullopt;
    return it->second;
  }

  // Reads the call `id` as a tensor; nullopt when it is made by a global
  // outside the allow-list (kept as a placeholder with skip_unknown).
  absl::StatusOr<std::optional<PickleTensor>> ReadTensor(PickleId id) {
    auto cached = tensors_.find(id);
    if (cached != tensors_.end()) return cached->second;
    SAFETENSORS_ASSIGN_OR_RETURN(std::optional<PickleTensor> tensor, ReadTensorUncached(id));
    tensors_.emplace(id, tensor);
    return tensor;
  }

  absl::StatusOr<std::optional<PickleTensor>> ReadTensorUncached(PickleId id) {
    const PickleValue& call = V(id);
    const PickleValue& callable = V(call.items[0]);
    const std::vector<PickleId>& args = V(call.items[1]).items;
    const std::optional<AllowedGlobal> role = RoleOf(call.items[0]);
    if (!role.has_value()) return std::optional<PickleTensor>();
    const auto bad = [&](absl::string_view rule) {
      return PickleError(call, absl::StrCat("arguments of ", callable.text, ": ", rule));
    };
    switch (role->role) {
      case GlobalRole::kRebuildParameter:
      case GlobalRole::kRebuildParameterWithState: {
        const size_t arity = role->role == GlobalRole::kRebuildParameter ? 3 : 4;
        if (args.size() != arity) return bad(absl::StrCat(arity, " expected, ", args.size(), " given"));
        // The data is a tensor call itself, never another Parameter: torch
        // writes no such nesting, and a chain of them would be a recursion
        // as deep as the pickle is long.
        const std::optional<AllowedGlobal> data_role =
            V(args[0]).kind == PickleKind::kCall ? RoleOf(V(args[0]).items[0]) : std::nullopt;
        if (V(args[0]).kind != PickleKind::kCall ||
            (data_role.has_value() && data_role->role != GlobalRole::kRebuildTensorV2 &&
             data_role->role != GlobalRole::kRebuildTensorV3)) {
          return bad("the data is not a tensor");
        }
        SAFETENSORS_ASSIGN_OR_RETURN(std::optional<PickleTensor> data, ReadTensor(args[0]));
        if (!data.has_value()) return data;
        if (V(args[1]).kind != PickleKind::kBool) return bad("requires_grad is not a bool");
        if (!IsEmptyDict(args[2])) return bad("backward hooks are not an empty dict");
        if (arity == 4 && !IsNoneOrEmptyDict(args[3])) return bad("parameter state is not empty");
        if (call.state != kNoValue) return bad("a Parameter with BUILD state");
        data->parameter = true;
        data->requires_grad = V(args[1]).integer != 0;
        return data;
      }
      case GlobalRole::kRebuildTensorV2:
      case GlobalRole::kRebuildTensorV3:
        break;
      default:
        return PickleError(call, absl::StrCat("a call of ", callable.text, " is not a tensor"));
    }
    const bool v3 = role->role == GlobalRole::kRebuildTensorV3;
    const size_t arity = v3 ? 7 : 6;
    if (args.size() != arity && args.size() != arity + 1) {
      return bad(absl::StrCat(arity, " or ", arity + 1, " expected, ", args.size(), " given"));
    }
    if (call.state != kNoValue) return bad("a tensor with BUILD state");
    PickleTensor tensor;
    auto storage = storage_of_id_.find(args[0]);
    if (storage == storage_of_id_.end()) return bad("the data is not a persistent id");
    tensor.storage = storage->second;
    const PickleValue& offset = V(args[1]);
    if (offset.kind != PickleKind::kInt || offset.integer < 0) return bad("storage offset is not an int >= 0");
    tensor.storage_offset = static_cast<uint64_t>(offset.integer);
    SAFETENSORS_RETURN_IF_ERROR(ReadDims(args[2], "size", call, &tensor.shape));
    SAFETENSORS_RETURN_IF_ERROR(ReadDims(args[3], "stride", call, &tensor.strides));
    if (tensor.shape.size() != tensor.strides.size()) return bad("size and stride differ in rank");
    if (V(args[4]).kind != PickleKind::kBool) return bad("requires_grad is not a bool");
    tensor.requires_grad = V(args[4]).integer != 0;
    if (!IsEmptyDict(args[5])) return bad("backward hooks are not an empty dict");
    if (args.size() == arity + 1 && !IsNoneOrEmptyDict(args[arity])) {
      return bad("tensor metadata (conjugate, negative or other flags) is not read");
    }
    StorageUse& use = storage_uses_[tensor.storage];
    std::optional<Dtype>& storage_dtype = storage_dtypes_[tensor.storage];
    if (v3) {
      const std::optional<AllowedGlobal> dtype = RoleOf(args[6]);
      if (!dtype.has_value() || dtype->role != GlobalRole::kDtype) return bad("dtype is not a torch dtype");
      if (!dtype->dtype.has_value()) {
        return MakeError(ErrorCode::kUnsupportedDtype,
                         absl::StrCat(V(args[6]).text, " (at byte ", V(args[6]).offset,
                                      ") has no safetensors dtype"));
      }
      if (storage_dtype.has_value() && *storage_dtype != *dtype->dtype) {
        return StorageError(absl::StrCat("storage ", QuoteForMessage(use.key), " is viewed as ",
                                         DtypeName(*storage_dtype), " and as ", DtypeName(*dtype->dtype)));
      }
      storage_dtype = dtype->dtype;
    } else if (use.untyped) {
      return bad("an untyped storage without a dtype");
    } else if (!storage_dtype.has_value()) {
      return MakeError(ErrorCode::kUnsupportedDtype,
                       absl::StrCat("tensor over a ", use.type_name, " (persistent id at byte ", use.offset,
                                    "): it has no safetensors dtype"));
    }
    tensor.dtype = *storage_dtype;
    return std::optional<PickleTensor>(std::move(tensor));
  }

  bool IsEmptyDict(PickleId id) const {
    return V(id).kind == PickleKind::kDict && V(id).items.empty() && V(id).state == kNoValue;
  }
  bool IsNoneOrEmptyDict(PickleId id) const { return V(id).kind == PickleKind::kNone || IsEmptyDict(id); }

  absl::Status ReadDims(PickleId id, absl::string_view what, const PickleValue& call,
                        std::vector<uint64_t>* dims) const {
    const PickleValue& tuple = V(id);
    if (tuple.kind != PickleKind::kTuple) {
      return PickleError(call, absl::StrCat(what, " is a ", DescribePickleValue(*pickle_, id), ", not a tuple"));
    }
    for (PickleId item : tuple.items) {
      if (V(item).kind != PickleKind::kInt || V(item).integer < 0) {
        return PickleError(call, absl::StrCat(what, " holds a ", DescribePickleValue(*pickle_, item),
                                              ", not an int >= 0"));
      }
      dims->push_back(static_cast<uint64_t>(V(item).integer));
    }
    return absl::OkStatus();
  }

  // ('storage', <Storage class>, key, location, numel) [+ view_metadata in
  // the legacy format]: the index of the storage it names.
  absl::StatusOr<size_t> ReadPersistentId(PickleId id) {
    const PickleValue& pid = V(V(id).items[0]);
    const auto bad = [&](absl::string_view rule) {
      return MakeError(ErrorCode::kRefusedGlobal,
                       absl::StrCat("persistent id at byte ", V(id).offset, ": ", rule));
    };
    if (pid.kind != PickleKind::kTuple || pid.items.empty() ||
        V(pid.items[0]).kind != PickleKind::kString) {
      return bad("not a tuple starting with its kind");
    }
    if (V(pid.items[0]).text != "storage") {
      return bad(absl::StrCat("kind ", QuoteForMessage(V(pid.items[0]).text),
                              " (only 'storage' ids are read)"));
    }
    const size_t arity = legacy_ids_ ? 6 : 5;
    if (pid.items.size() != arity) return bad(absl::StrCat(arity, " fields expected, ", pid.items.size(), " given"));
    const std::optional<AllowedGlobal> type = RoleOf(pid.items[1]);
    if (!type.has_value() ||
        (type->role != GlobalRole::kTypedStorage && type->role != GlobalRole::kUntypedStorage)) {
      return bad("the storage type is not a torch storage class");
    }
    const PickleValue& key = V(pid.items[2]);
    const PickleValue& location = V(pid.items[3]);
    const PickleValue& numel = V(pid.items[4]);
    if (key.kind != PickleKind::kString || key.text.empty()) return bad("the key is not a string");
    if (location.kind != PickleKind::kString) return bad("the location is not a string");
    if (numel.kind != PickleKind::kInt || numel.integer < 0) return bad("the size is not an int >= 0");
    if (legacy_ids_ && V(pid.items[5]).kind != PickleKind::kNone) {
      return bad("a legacy storage view (view_metadata) is not read");
    }
    StorageUse use;
    use.key = key.text;
    use.untyped = type->role == GlobalRole::kUntypedStorage;
    use.dtype = type->dtype;
    use.type_name = V(pid.items[1]).text;
    use.element_size = type->element_size;
    use.numel = static_cast<uint64_t>(numel.integer);
    use.offset = V(id).offset;
    auto [it, inserted] = storage_by_key_.emplace(use.key, storage_uses_.size());
    if (inserted) {
      storage_dtypes_.push_back(use.dtype);
      storage_uses_.push_back(std::move(use));
      return it->second;
    }
    const StorageUse& first = storage_uses_[it->second];
    if (first.untyped != use.untyped || first.dtype != use.dtype || first.numel != use.numel) {
      return StorageError(absl::StrCat("storage ", QuoteForMessage(use.key), " is described twice, "
                                       "differently (at bytes ", first.offset, " and ", use.offset, ")"));
    }
    return it->second;
  }

  const PickleCheckpointOptions& options_;
  PickleCheckpoint& result_;
  const Pickle* pickle_ = nullptr;
  bool legacy_ids_ = false;
  PickleId tensor_root_ = kNoValue;
  uint64_t visits_ = 0;
  absl::flat_hash_set<std::string> names_;
  absl::flat_hash_map<PickleId, std::optional<PickleTensor>> tensors_;
  absl::flat_hash_map<std::string, size_t> storage_by_key_;
  absl::flat_hash_map<PickleId, size_t> storage_of_id_;
  std::vector<StorageUse> storage_uses_;
  std::vector<std::optional<Dtype>> storage_dtypes_;  // settled dtype per storage
};

// Fills result.storages from the interpreter's uses, with each storage's
// bytes found by `locate(key, byte_size)`, then checks every tensor's extent.
template <typename Locate>
absl::Status BuildTables(const Interpreter& interpreter, PickleCheckpoint& result, Locate locate) {
  const std::vector<StorageUse>& uses = interpreter.storage_uses();
  for (size_t i = 0; i < uses.size(); ++i) {
    const StorageUse& use = uses[i];
    const std::optional<Dtype> dtype = interpreter.storage_dtypes()[i];
    PickleStorage storage;
    storage.key = use.key;
    // A storage no tensor gives a safetensors dtype (untyped and unread, or
    // a quantized one behind a placeholder) is kept as bytes.
    storage.dtype = dtype.value_or(Dtype::kU8);
    const uint64_t element_size = DtypeBits(storage.dtype) / 8;
    if (!dtype.has_value()) {
      if (!CheckedMul(use.numel, use.element_size, &storage.byte_size)) {
        return StorageError(absl::StrCat("storage ", QuoteForMessage(use.key), ": ", use.numel,
                                         " elements overflow a byte count"));
      }
      storage.numel = storage.byte_size;
    } else if (use.untyped) {
      if (use.numel % element_size != 0) {
        return StorageError(absl::StrCat("storage ", QuoteForMessage(use.key), ": ", use.numel,
                                         " bytes are not whole ", DtypeName(storage.dtype), " elements"));
      }
      storage.numel = use.numel / element_size;
      storage.byte_size = use.numel;
    } else {
      storage.numel = use.numel;
      if (!CheckedMul(use.numel, element_size, &storage.byte_size)) {
        return StorageError(absl::StrCat("storage ", QuoteForMessage(use.key), ": ", use.numel,
                                         " elements overflow a byte count"));
      }
    }
    SAFETENSORS_ASSIGN_OR_RETURN(storage.byte_offset, locate(storage.key, storage.byte_size));
    result.storages.push_back(std::move(storage));
  }
  for (const PickleTensor& tensor : result.tensors) {
    const PickleStorage& storage = result.storages[tensor.storage];
    uint64_t numel = 1;
    uint64_t last = tensor.storage_offset;
    bool fits = true;
    for (size_t d = 0; d < tensor.shape.size(); ++d) {
      uint64_t step = 0;
      fits = fits && CheckedMul(numel, tensor.shape[d], &numel);
      if (tensor.shape[d] > 0) {
        fits = fits && CheckedMul(tensor.shape[d] - 1, tensor.strides[d], &step) &&
               CheckedAdd(last, step, &last);
      }
    }
    const bool inside = numel == 0 ? tensor.storage_offset <= storage.numel : last < storage.numel;
    if (!fits || !inside) {
      return StorageError(absl::StrCat("tensor ", QuoteForMessage(tensor.name), " reaches past the ",
                                       storage.numel, " elements of storage ", QuoteForMessage(storage.key)));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckPickleEnds(const Pickle& pickle, uint64_t record_size, uint64_t offset) {
  if (pickle.size != record_size) {
    return MakeError(ErrorCode::kInvalidPickle,
                     absl::StrCat("pickle: ", record_size - pickle.size, " bytes after STOP (at byte ",
                                  offset + pickle.size, ")"));
  }
  return absl::OkStatus();
}

// Zip records torch.save writes besides data.pkl and data/<key>.
bool IsKnownRecord(absl::string_view name) {
  return name == "byteorder" || name == "version" || name == ".format_version" ||
         name == ".storage_alignment" || name == ".data/serialization_id" || name == ".data/version";
}

bool IsTorchScriptRecord(absl::string_view name) {
  return name == "constants.pkl" || name == "model.json" || name == "attributes.pkl" ||
         absl::StartsWith(name, "code/") || absl::StartsWith(name, "constants/") ||
         absl::StartsWith(name, "extra/");
}

absl::StatusOr<absl::Span<const uint8_t>> StoredRecord(absl::Span<const uint8_t> file, const ZipEntry& entry,
                                                       uint64_t max_size) {
  if (entry.method != kZipMethodStored) {
    return MakeError(ErrorCode::kInvalidArchive,
                     absl::StrCat("record ", QuoteForMessage(entry.name), " is compressed (torch.save "
                                  "stores every record; compressed ones are not read)"));
  }
  if (entry.size > max_size) {
    return MakeError(ErrorCode::kInvalidArchive, absl::StrCat("record ", QuoteForMessage(entry.name), " of ",
                                                              entry.size, " bytes is above the limit ", max_size));
  }
  return file.subspan(static_cast<size_t>(entry.data_offset), static_cast<size_t>(entry.size));
}

absl::Status ParseZipCheckpoint(absl::Span<const uint8_t> file, const PickleCheckpointOptions& options,
                                PickleCheckpoint& result) {
  SAFETENSORS_ASSIGN_OR_RETURN(const ZipArchive zip, ParseZipArchive(file, options.will_read));
  if (zip.entries.empty()) return MakeError(ErrorCode::kInvalidArchive, "zip archive without entries");
  for (const ZipEntry& entry : zip.entries) {
    const size_t slash = entry.name.find('/');
    if (IsTorchScriptRecord(entry.name) ||
        (slash != std::string::npos && IsTorchScriptRecord(absl::string_view(entry.name).substr(slash + 1)))) {
      return MakeError(ErrorCode::kUnsupportedFormat,
                       absl::StrCat("a TorchScript archive (record ", QuoteForMessage(entry.name),
                                    "): torch.jit.save output is code, not a checkpoint"));
    }
  }
  const std::string& first = zip.entries.front().name;
  const size_t slash = first.find('/');
  if (slash == std::string::npos) {
    return MakeError(ErrorCode::kUnsupportedFormat,
                     absl::StrCat("a zip whose first entry ", QuoteForMessage(first),
                                  " is in no folder: not a torch.save archive"));
  }
  result.archive_prefix = first.substr(0, slash);
  const std::string prefix = absl::StrCat(result.archive_prefix, "/");
  absl::flat_hash_map<std::string, const ZipEntry*> storage_records;
  for (const ZipEntry& entry : zip.entries) {
    if (!absl::StartsWith(entry.name, prefix)) {
      return MakeError(ErrorCode::kInvalidArchive,
                       absl::StrCat("entry ", QuoteForMessage(entry.name), " is outside the archive's folder ",
                                    QuoteForMessage(result.archive_prefix)));
    }
    const absl::string_view rest = absl::string_view(entry.name).substr(prefix.size());
    if (absl::StartsWith(rest, "data/")) {
      const absl::string_view key = rest.substr(5);
      if (key.find('/') != absl::string_view::npos) {
        return MakeError(ErrorCode::kInvalidArchive,
                         absl::StrCat("entry ", QuoteForMessage(entry.name), " is not a storage record"));
      }
      storage_records.emplace(std::string(key), &entry);
    } else if (rest != "data.pkl" && !IsKnownRecord(rest)) {
      return MakeError(ErrorCode::kInvalidArchive,
                       absl::StrCat("entry ", QuoteForMessage(entry.name), " is not a record torch.save writes"));
    }
  }
  if (const ZipEntry* byteorder = zip.Find(absl::StrCat(prefix, "byteorder"))) {
    SAFETENSORS_ASSIGN_OR_RETURN(absl::Span<const uint8_t> text, StoredRecord(file, *byteorder, 16));
    if (TextOf(text) != "little" && TextOf(text) != "big") {
      return MakeError(ErrorCode::kInvalidArchive,
                       absl::StrCat("byteorder record holds ", QuoteForMessage(TextOf(text)),
                                    ", not \"little\" or \"big\""));
    }
    result.big_endian = TextOf(text) == "big";
  }
  const ZipEntry* data_pkl = zip.Find(absl::StrCat(prefix, "data.pkl"));
  if (data_pkl == nullptr) {
    return MakeError(ErrorCode::kInvalidArchive, absl::StrCat("no ", prefix, "data.pkl record"));
  }
  SAFETENSORS_ASSIGN_OR_RETURN(absl::Span<const uint8_t> pickle_bytes,
                               StoredRecord(file, *data_pkl, options.max_pickle_size));
  Interpreter interpreter(options, result);
  SAFETENSORS_ASSIGN_OR_RETURN(const Pickle pickle, interpreter.Read(pickle_bytes, data_pkl->data_offset));
  SAFETENSORS_RETURN_IF_ERROR(CheckPickleEnds(pickle, pickle_bytes.size(), data_pkl->data_offset));
  SAFETENSORS_RETURN_IF_ERROR(interpreter.Interpret(pickle, /*legacy_ids=*/false));
  SAFETENSORS_RETURN_IF_ERROR(BuildTables(
      interpreter, result, [&](const std::string& key, uint64_t byte_size) -> absl::StatusOr<uint64_t> {
        auto it = storage_records.find(key);
        if (it == storage_records.end()) {
          return StorageError(absl::StrCat("storage ", QuoteForMessage(key), " has no record ",
                                           QuoteForMessage(absl::StrCat(prefix, "data/", key))));
        }
        const ZipEntry& entry = *it->second;
        storage_records.erase(it);
        if (entry.method != kZipMethodStored) {
          return StorageError(absl::StrCat("storage record ", QuoteForMessage(entry.name), " is compressed"));
        }
        if (entry.size != byte_size) {
          return StorageError(absl::StrCat("storage record ", QuoteForMessage(entry.name), " holds ",
                                           entry.size, " bytes; its persistent id says ", byte_size));
        }
        return entry.data_offset;
      }));
  if (!storage_records.empty()) {
    return StorageError(absl::StrCat("record ", QuoteForMessage(storage_records.begin()->second->name),
                                     " is a storage no persistent id names"));
  }
  return absl::OkStatus();
}

absl::Status ParseLegacyCheckpoint(absl::Span<const uint8_t> file, const PickleCheckpointOptions& options,
                                   PickleCheckpoint& result) {
  result.format = PickleFormat::kLegacy;
  uint64_t position = 0;
  Interpreter interpreter(options, result);
  const auto next_pickle = [&]() -> absl::StatusOr<Pickle> {
    SAFETENSORS_ASSIGN_OR_RETURN(Pickle pickle,
                                 interpreter.Read(file.subspan(static_cast<size_t>(position)), position));
    position += pickle.size;
    return pickle;
  };
  const auto unsupported = [](absl::string_view why) {
    return MakeError(ErrorCode::kUnsupportedFormat, absl::StrCat("not a torch.save legacy file: ", why));
  };
  SAFETENSORS_ASSIGN_OR_RETURN(const Pickle magic, next_pickle());
  const PickleValue& magic_value = magic.value(magic.root);
  if (magic_value.kind != PickleKind::kBigInt ||
      magic_value.text != TextOf(absl::Span<const uint8_t>(kLegacyMagic))) {
    return unsupported("the first pickle is not torch's magic number");
  }
  SAFETENSORS_ASSIGN_OR_RETURN(const Pickle protocol, next_pickle());
  if (protocol.value(protocol.root).kind != PickleKind::kInt ||
      protocol.value(protocol.root).integer != kLegacyProtocolVersion) {
    return unsupported("the protocol version is not 1001");
  }
  SAFETENSORS_ASSIGN_OR_RETURN(const Pickle sys_info, next_pickle());
  const PickleValue& info = sys_info.value(sys_info.root);
  std::optional<bool> little_endian;
  if (info.kind == PickleKind::kDict) {
    for (size_t i = 0; i + 1 < info.items.size(); i += 2) {
      const PickleValue& key = sys_info.value(info.items[i]);
      const PickleValue& value = sys_info.value(info.items[i + 1]);
      if (key.kind == PickleKind::kString && key.text == "little_endian" && value.kind == PickleKind::kBool) {
        little_endian = value.integer != 0;
      }
    }
  }
  if (!little_endian.has_value()) return unsupported("sys_info has no little_endian flag");
  result.big_endian = !*little_endian;
  const uint64_t object_offset = position;
  SAFETENSORS_ASSIGN_OR_RETURN(const Pickle object, next_pickle());
  SAFETENSORS_RETURN_IF_ERROR(interpreter.Interpret(object, /*legacy_ids=*/true));
  SAFETENSORS_ASSIGN_OR_RETURN(const Pickle keys, next_pickle());
  const PickleValue& key_list = keys.value(keys.root);
  if (key_list.kind != PickleKind::kList) {
    return MakeError(ErrorCode::kInvalidStorage,
                     absl::StrCat("the storage key list after the object (at byte ", object_offset,
                                  ") is a ", DescribePickleValue(keys, keys.root)));
  }
  // The storages follow in the list's order, each an 8-byte element count
  // (in the file's byte order) and the elements.
  absl::flat_hash_map<std::string, uint64_t> offsets;
  absl::flat_hash_map<std::string, size_t> index_of;
  for (size_t i = 0; i < interpreter.storage_uses().size(); ++i) {
    index_of.emplace(interpreter.storage_uses()[i].key, i);
  }
  for (PickleId id : key_list.items) {
    const PickleValue& key = keys.value(id);
    if (key.kind != PickleKind::kString) {
      return StorageError(absl::StrCat("storage key list holds a ", DescribePickleValue(keys, id)));
    }
    auto use = index_of.find(key.text);
    if (use == index_of.end()) {
      return StorageError(absl::StrCat("storage ", QuoteForMessage(key.text), " is listed but no persistent id names it"));
    }
    if (offsets.contains(key.text)) {
      return StorageError(absl::StrCat("storage ", QuoteForMessage(key.text), " is listed twice"));
    }
    const StorageUse& storage_use = interpreter.storage_uses()[use->second];
    uint64_t count = 0;
    ByteCursor cursor(file.subspan(static_cast<size_t>(position)));
    if (!cursor.TakeLittleEndian(8, &count)) {
      return StorageError(absl::StrCat("storage ", QuoteForMessage(key.text), ": the file ends at byte ",
                                       file.size(), " before its element count"));
    }
    if (result.big_endian) count = __builtin_bswap64(count);
    const std::optional<Dtype> dtype = interpreter.storage_dtypes()[use->second];
    const uint64_t element_size = dtype.has_value() ? DtypeBits(*dtype) / 8 : storage_use.element_size;
    const uint64_t expected = storage_use.untyped ? storage_use.numel / element_size : storage_use.numel;
    uint64_t byte_size = 0;
    if (count != expected || !CheckedMul(count, element_size, &byte_size)) {
      return StorageError(absl::StrCat("storage ", QuoteForMessage(key.text), " at byte ", position, " holds ",
                                       count, " elements; its persistent id says ", expected));
    }
    position += 8;
    if (byte_size > file.size() - position) {
      return StorageError(absl::StrCat("storage ", QuoteForMessage(key.text), " of ", byte_size,
                                       " bytes at byte ", position, " runs past the end of the file"));
    }
    offsets.emplace(key.text, position);
    position += byte_size;
  }
  if (position != file.size()) {
    return MakeError(ErrorCode::kUnsupportedFormat,
                     absl::StrCat(file.size() - position, " bytes after the last storage (at byte ", position,
                                  "): the file is more than one torch.save legacy file"));
  }
  return BuildTables(interpreter, result,
                     [&](const std::string& key, uint64_t) -> absl::StatusOr<uint64_t> {
                       auto it = offsets.find(key);
                       if (it == offsets.end()) {
                         return StorageError(absl::StrCat("storage ", QuoteForMessage(key),
                                                          " is not in the storage key list"));
                       }
                       return it->second;
                     });
}

bool LooksLikeTar(absl::Span<const uint8_t> file) {
  return file.size() >= 263 && TextOf(file.subspan(257, 5)) == "ustar";
}

}  // namespace

bool LooksLikePickleCheckpoint(absl::Span<const uint8_t> file) {
  // PROTO 2, LONG1 of 10 bytes, the magic number.
  constexpr uint8_t kLegacyStart[] = {0x80, 0x02, 0x8a, 0x0a};
  const absl::Span<const uint8_t> start(kLegacyStart);
  return StartsLikeZip(file) ||
         (file.size() >= start.size() + sizeof kLegacyMagic &&
          file.subspan(0, start.size()) == start &&
          file.subspan(start.size(), sizeof kLegacyMagic) == absl::Span<const uint8_t>(kLegacyMagic));
}

absl::StatusOr<PickleCheckpoint> ParsePickleCheckpoint(absl::Span<const uint8_t> file,
                                                       const PickleCheckpointOptions& options) {
  PickleCheckpoint result;
  if (StartsLikeZip(file)) {
    SAFETENSORS_RETURN_IF_ERROR(ParseZipCheckpoint(file, options, result));
  } else if (file.size() >= 2 && file[0] == 0x80 && file[1] == 0x02) {  // PROTO 2
    SAFETENSORS_RETURN_IF_ERROR(ParseLegacyCheckpoint(file, options, result));
  } else if (LooksLikeTar(file)) {
    return MakeError(ErrorCode::kUnsupportedFormat,
                     "a tar archive: torch's pre-1.0 tar format is not read (torch.load refuses it "
                     "with weights_only too)");
  } else {
    return MakeError(ErrorCode::kUnsupportedFormat,
                     "neither a zip (torch >= 1.6) nor a legacy torch.save file: it starts with "
                     "neither \"PK\\x03\\x04\" nor PROTO 2");
  }
  return result;
}

}  // namespace safetensors
