#include "io/sigbus_guard.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "parser/status_matchers.h"
#include "testdata/test_files.h"

namespace safetensors {
namespace {

// A mapping of a file of `pages` pages, truncated to one page after it was
// mapped: its later pages raise SIGBUS when touched.
struct ShrunkMapping {
  explicit ShrunkMapping(const std::string& name, size_t pages) {
    page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const std::string path = testing::WriteTempFile(name, std::string(pages * page, 'x'));
    fd = ::open(path.c_str(), O_RDONLY);
    size = pages * page;
    bytes = static_cast<const uint8_t*>(::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0));
    EXPECT_EQ(::truncate(path.c_str(), static_cast<off_t>(page)), 0);
  }
  ~ShrunkMapping() {
    ::munmap(const_cast<uint8_t*>(bytes), size);
    ::close(fd);
  }
  int fd;
  size_t page, size;
  const uint8_t* bytes;
};

// Reads every byte (volatile: no read can be left out).
uint64_t Sum(absl::Span<const uint8_t> range) {
  const volatile uint8_t* bytes = range.data();
  uint64_t sum = 0;
  for (size_t i = 0; i < range.size(); ++i) sum += bytes[i];
  return sum;
}

TEST(SigbusGuardTest, AReadPastTheEndOfAShrunkFileReturnsFalse) {
  ASSERT_OK(InstallSigbusGuard());
  ASSERT_OK(InstallSigbusGuard());  // once is enough; again is harmless
  ShrunkMapping m("shrunk", 4);
  const absl::Span<const uint8_t> all(m.bytes, m.size);
  uint64_t sum = 0;
  EXPECT_TRUE(RunGuarded(all.first(m.page), [&] { sum = Sum(all.first(m.page)); }));
  EXPECT_EQ(sum, m.page * 'x');
  for (int i = 0; i < 3; ++i) {  // the guard holds every time
    EXPECT_FALSE(RunGuarded(all, [&] { sum = Sum(all); }));
  }
}

// Dead of SIGBUS, or (under a sanitizer, whose SIGBUS handler was there
// first and so is the one the guard hands the fault to) exited with a report.
bool DiedOfTheFault(int status) {
  return (WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS) ||
         (WIFEXITED(status) && WEXITSTATUS(status) != 0);
}

// A SIGBUS outside a guarded range still ends the process, as it would
// without the guard.
TEST(SigbusGuardDeathTest, AnUnguardedFaultStillKills) {
  ASSERT_OK(InstallSigbusGuard());
  EXPECT_EXIT(
      {
        ShrunkMapping m("shrunk_unguarded", 4);
        const absl::Span<const uint8_t> all(m.bytes, m.size);
        // Guarded elsewhere: the first page only.
        RunGuarded(all.first(m.page), [&] { Sum(all); });
      },
      DiedOfTheFault, "");
  EXPECT_EXIT(
      {
        ShrunkMapping m("shrunk_unguarded2", 4);
        Sum(absl::Span<const uint8_t>(m.bytes, m.size));
      },
      DiedOfTheFault, "");
}

}  // namespace
}  // namespace safetensors
