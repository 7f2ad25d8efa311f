#include "parser/shared_storage.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "parser/error.h"
#include "parser/status_matchers.h"

namespace safetensors {
namespace {

using ::testing::ElementsAre;
using testing::HasErrorCode;
using testing::IsOk;

using Groups = std::vector<std::vector<std::string>>;

TEST(SharedStorageTest, GroupsOverlappingAreasOfOneStorage) {
  const std::vector<StorageArea> areas = {
      {0, 0, 96, true, "w"},        // a whole 24-float storage
      {0, 24, 48, false, "row"},    // a row of it
      {0, 0, 96, true, "tied"},     // the same tensor again
      {0, 96, 96, false, "empty"},  // an empty view at its end: overlaps nothing
      {1, 0, 8, true, "b"},         // its own storage
      {2, 0, 16, false, "first"},   // two halves of one storage do not overlap
      {2, 16, 32, false, "second"},
  };
  EXPECT_EQ(FindSharedGroups(areas),
            (Groups{{"b"}, {"empty"}, {"first"}, {"row", "tied", "w"}, {"second"}}));
}

// The reference compares each area with the one before it only: a short
// area inside a long one ends the chain for the areas after it.
TEST(SharedStorageTest, ComparesWithThePreviousAreaOnly) {
  const std::vector<StorageArea> areas = {
      {0, 0, 100, true, "all"}, {0, 10, 20, false, "short"}, {0, 30, 40, false, "later"}};
  EXPECT_EQ(FindSharedGroups(areas), (Groups{{"all", "short"}, {"later"}}));
}

TEST(SharedStorageTest, KeepsTheFirstCompleteNameAndHonoursPreferences) {
  const std::vector<StorageArea> areas = {
      {0, 0, 96, true, "w"}, {0, 24, 48, false, "row"}, {0, 0, 96, true, "tied"}, {1, 0, 8, true, "b"}};
  const Groups groups = FindSharedGroups(areas);
  auto removed = ChooseNamesToRemove(groups, areas, {}, {});
  ASSERT_THAT(removed, IsOk());
  ASSERT_EQ(removed->size(), 1u);
  EXPECT_THAT(removed->at("tied"), ElementsAre("row", "w"));  // "tied" < "w"
  removed = ChooseNamesToRemove(groups, areas, {}, {"tied"});
  ASSERT_THAT(removed, IsOk());
  EXPECT_THAT(removed->at("w"), ElementsAre("row", "tied"));
  removed = ChooseNamesToRemove(groups, areas, {"w"}, {"w"});  // preferred wins
  ASSERT_THAT(removed, IsOk());
  EXPECT_THAT(removed->at("w"), ElementsAre("row", "tied"));
}

TEST(SharedStorageTest, RefusesAGroupNoNameCovers) {
  const std::vector<StorageArea> areas = {{0, 0, 48, false, "top"}, {0, 24, 96, false, "bottom"}};
  const auto removed = ChooseNamesToRemove(FindSharedGroups(areas), areas, {}, {});
  EXPECT_THAT(removed, HasErrorCode(ErrorCode::kInvalidTensor));
  EXPECT_THAT(std::string(removed.status().message()), ::testing::HasSubstr("amongst: {bottom, top}"));
  // One slice alone is refused too: saving it would save the whole storage.
  const std::vector<StorageArea> alone = {{0, 24, 48, false, "row"}};
  EXPECT_THAT(ChooseNamesToRemove(FindSharedGroups(alone), alone, {}, {}),
              HasErrorCode(ErrorCode::kInvalidTensor));
}

}  // namespace
}  // namespace safetensors
