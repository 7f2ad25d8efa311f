#include "torch_io/shared_tensors.h"

#include <random>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ops/empty.h>
#include <ATen/ops/ones.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace safetensors {
namespace internal {
namespace {

// What EachTensorOwnsItsStorage promises, spelled with the general rules:
// every group of FindSharedTensors is one name covering its storage.
bool OwnsByTheGeneralRules(const TensorDict& tensors) {
  for (const std::vector<std::string>& group : FindSharedTensors(tensors)) {
    if (group.size() != 1 || !CoversWholeStorage(tensors[group[0]])) return false;
  }
  return true;
}

TEST(SharedTensorsTest, SeparateWholeTensorsOwnTheirStorage) {
  TensorDict tensors;
  tensors.insert("a", at::ones({4, 3}));
  tensors.insert("b", at::ones({7}));
  tensors.insert("transposed", at::ones({2, 5}).t());  // whole, not contiguous
  tensors.insert("undefined", at::Tensor());           // no memory: shares none
  tensors.insert("empty", at::empty({0}));
  EXPECT_TRUE(EachTensorOwnsItsStorage(tensors));
  EXPECT_TRUE(OwnsByTheGeneralRules(tensors));
}

TEST(SharedTensorsTest, TiedViewedAndExpandedTensorsDoNot) {
  const at::Tensor base = at::ones({4, 4});
  const std::vector<std::pair<std::string, at::Tensor>> cases = {
      {"tied", base},                       // the same storage twice
      {"row", base[1]},                     // part of a storage
      {"expanded", at::ones({4}).expand({3, 4})},  // spans its storage, more bytes
  };
  for (const auto& [name, tensor] : cases) {
    TensorDict tensors;
    tensors.insert("base", base);
    tensors.insert(name, tensor);
    EXPECT_FALSE(EachTensorOwnsItsStorage(tensors)) << name;
    EXPECT_FALSE(OwnsByTheGeneralRules(tensors)) << name;
  }
  // Two halves of one storage overlap nothing, yet neither covers it.
  TensorDict halves;
  halves.insert("low", base.narrow(0, 0, 2));
  halves.insert("high", base.narrow(0, 2, 2));
  EXPECT_FALSE(EachTensorOwnsItsStorage(halves));
  EXPECT_FALSE(OwnsByTheGeneralRules(halves));
}

// Random dictionaries of whole tensors, aliases, slices and expansions of a
// few storages: the fast answer agrees with the general rules every time.
TEST(SharedTensorsTest, AgreesWithTheGeneralRulesOnRandomDictionaries) {
  std::mt19937 random(20261126);
  int owned = 0;
  for (int round = 0; round < 500; ++round) {
    std::vector<at::Tensor> storages;
    for (int i = 0; i < 6; ++i) storages.push_back(at::ones({2 + i, 3}));
    TensorDict tensors;
    const int count = std::uniform_int_distribution<int>(0, 6)(random);
    for (int i = 0; i < count; ++i) {
      // Mostly whole tensors of storages of their own, so that both answers
      // come up.
      const int pick = std::uniform_int_distribution<int>(0, 19)(random);
      const at::Tensor& s = storages[static_cast<size_t>(pick % 6)];
      at::Tensor t;
      if (pick < 14) {
        t = storages[static_cast<size_t>(i)];  // whole, one per name
      } else if (pick < 16) {
        t = s;  // an alias of whichever storage
      } else if (pick < 18) {
        t = s.narrow(0, 0, 1);
      } else {
        t = s[0].expand({2, 3});
      }
      tensors.insert(absl::StrCat("t", i), t);
    }
    const bool expected = OwnsByTheGeneralRules(tensors);
    EXPECT_EQ(EachTensorOwnsItsStorage(tensors), expected) << "round " << round;
    owned += expected ? 1 : 0;
  }
  // Both answers were tried many times.
  EXPECT_GT(owned, 50);
  EXPECT_LT(owned, 450);
}

}  // namespace
}  // namespace internal
}  // namespace safetensors
