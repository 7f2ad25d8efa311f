// A by-name index over an array that already holds the names: a hash set of
// positions, hashed and compared through each element's name, so it costs
// 4 or 8 bytes an element rather than a second view of every name (a large
// index then stays in cache while it is built). Internal to parser/.
//
//   NameIndex<TensorInfo, uint64_t, &TensorNameOf> index = MakeNameIndex<...>(tensors);
//   auto it = index.find("w");  // a position in `tensors`
//
// It points at the array's buffer, which must not move while the index is in
// use (a move of a std::vector keeps its buffer; growing it does not).
#ifndef SAFETENSORS_PARSER_NAME_INDEX_H_
#define SAFETENSORS_PARSER_NAME_INDEX_H_

#include <cstddef>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace safetensors {
namespace internal {

template <typename T, typename Position, absl::string_view (*NameOf)(const T&)>
struct NameHash {
  using is_transparent = void;
  const T* elements;
  size_t operator()(Position i) const { return (*this)(NameOf(elements[i])); }
  size_t operator()(absl::string_view name) const {
    return absl::Hash<absl::string_view>()(name);
  }
};

template <typename T, typename Position, absl::string_view (*NameOf)(const T&)>
struct NameEq {
  using is_transparent = void;
  const T* elements;
  bool operator()(Position a, Position b) const {
    return NameOf(elements[a]) == NameOf(elements[b]);
  }
  bool operator()(Position a, absl::string_view b) const { return NameOf(elements[a]) == b; }
  bool operator()(absl::string_view a, Position b) const { return a == NameOf(elements[b]); }
};

template <typename T, typename Position, absl::string_view (*NameOf)(const T&)>
using NameIndex = absl::flat_hash_set<Position, NameHash<T, Position, NameOf>,
                                      NameEq<T, Position, NameOf>>;

// An empty index over `elements`, with room for all of them.
template <typename T, typename Position, absl::string_view (*NameOf)(const T&)>
NameIndex<T, Position, NameOf> MakeNameIndex(const std::vector<T>& elements) {
  return NameIndex<T, Position, NameOf>(elements.size(),
                                        NameHash<T, Position, NameOf>{elements.data()},
                                        NameEq<T, Position, NameOf>{elements.data()});
}

}  // namespace internal
}  // namespace safetensors

#endif  // SAFETENSORS_PARSER_NAME_INDEX_H_
