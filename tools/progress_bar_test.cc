#include "tools/progress_bar.h"

#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace safetensors {
namespace cli {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

size_t Draws(const std::string& text) {
  size_t n = 0;
  for (size_t at = text.find('\r'); at != std::string::npos; at = text.find('\r', at + 1)) ++n;
  return n;
}

TEST(ProgressBarTest, DrawsInPlaceAtMostOncePerPerMilleAndErasesAtTheEnd) {
  std::ostringstream out;
  {
    ProgressBar bar("diff", out, /*enabled=*/true);
    for (uint64_t done = 0; done <= 1'000'000; done += 100) bar.Update(done, 1'000'000);
    EXPECT_THAT(out.str(), HasSubstr("diff [##############################] 0.0 of 0.0 GB, 100%"));
    EXPECT_EQ(Draws(out.str()), 1001u);
  }
  EXPECT_THAT(out.str(), EndsWith("\r\033[K"));  // the destructor erased it
}

TEST(ProgressBarTest, ShowsBytesAndPercent) {
  std::ostringstream out;
  ProgressBar bar("load", out, /*enabled=*/true);
  bar.Update(uint64_t{3'000'000'000}, uint64_t{12'000'000'000});
  EXPECT_THAT(out.str(), HasSubstr("load [#######                       ] 3.0 of 12.0 GB, 25%"));
  bar.Update(uint64_t{20'000'000'000}, uint64_t{12'000'000'000});  // clamped
  EXPECT_THAT(out.str(), HasSubstr("12.0 of 12.0 GB, 100%"));
}

TEST(ProgressBarTest, DisabledDrawsNothing) {
  std::ostringstream out;
  {
    ProgressBar bar("diff", out, /*enabled=*/false);
    bar.Update(1, 2);
    bar.Finish();
  }
  EXPECT_THAT(out.str(), IsEmpty());
}

}  // namespace
}  // namespace cli
}  // namespace safetensors
