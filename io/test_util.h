// Helpers for tests of reads (io's, torch_io's and the CLI's): file contents
// with a pattern, memory aligned for direct reads, the page cache's state,
// paths that are not regular files, and a watchdog for calls that could block.
#ifndef SAFETENSORS_IO_TEST_UTIL_H_
#define SAFETENSORS_IO_TEST_UTIL_H_

#include <fcntl.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "gtest/gtest.h"
#include "io/direct_read.h"
#include "io/file.h"

namespace safetensors {
namespace testing {

// `size` bytes in which nearby ranges differ (a read from the wrong offset
// shows).
inline std::string PatternedBytes(size_t size) {
  std::string contents(size, '\0');
  for (size_t i = 0; i < size; ++i) contents[i] = static_cast<char>((i * 7 + i / 251) & 0xFF);
  return contents;
}

// Whether this filesystem opens `path` for direct reads (tmpfs before
// Linux 6.6 does not): tests of direct reads have nothing to test without.
inline bool OpensForDirectReads(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT);
  if (fd >= 0) ::close(fd);
  return fd >= 0;
}

// Writes the open file's pages back and asks the kernel to drop them from
// the page cache (only clean pages drop); whether both calls succeeded.
inline bool DropFromPageCache(int fd) {
  return ::fdatasync(fd) == 0 && ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
}

// `size` bytes (a multiple of kDirectReadAlignment) at an address aligned for
// direct reads, each 0xEE until written.
struct AlignedBuffer {
  explicit AlignedBuffer(size_t size)
      : bytes(static_cast<uint8_t*>(std::aligned_alloc(kDirectReadAlignment, size)), &std::free),
        span(bytes.get(), size) {
    std::fill(span.begin(), span.end(), uint8_t{0xEE});
  }
  std::unique_ptr<uint8_t, decltype(&std::free)> bytes;
  absl::Span<uint8_t> span;
};

// Ends the test binary with a message naming `what` if the scope still runs
// after `seconds`: a call that blocks (an open of a FIFO waiting for a
// writer) then fails the test at once instead of hanging it until the test
// runner's own timeout, and says which call it was.
class Watchdog {
 public:
  explicit Watchdog(std::string what, int seconds = 20)
      : what_(std::move(what)), thread_([this, seconds] {
          std::unique_lock<std::mutex> lock(mutex_);
          if (!done_condition_.wait_for(lock, std::chrono::seconds(seconds),
                                        [this] { return done_; })) {
            std::fprintf(stderr, "watchdog: %s still running after %d s: it blocks\n",
                         what_.c_str(), seconds);
            std::fflush(stderr);
            std::_Exit(3);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
    }
    done_condition_.notify_one();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  const std::string what_;
  std::mutex mutex_;
  std::condition_variable done_condition_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// Paths a hostile archive or repository can carry where a file is expected.
enum class SpecialFile { kFifo, kSocket, kDevZero, kSymlinkLoop };

inline std::vector<SpecialFile> AllSpecialFiles() {
  return {SpecialFile::kFifo, SpecialFile::kSocket, SpecialFile::kDevZero,
          SpecialFile::kSymlinkLoop};
}

inline const char* SpecialFileName(SpecialFile kind) {
  switch (kind) {
    case SpecialFile::kFifo: return "FIFO";
    case SpecialFile::kSocket: return "socket";
    case SpecialFile::kDevZero: return "/dev/zero";
    case SpecialFile::kSymlinkLoop: return "symlink loop";
  }
  return "?";
}

// What an open of such a path must say: its type, or (a loop) the errno text.
inline const char* SpecialFileMessage(SpecialFile kind) {
  switch (kind) {
    case SpecialFile::kFifo: return "is a FIFO (named pipe), not a regular file";
    case SpecialFile::kSocket: return "is a socket, not a regular file";
    case SpecialFile::kDevZero: return "is a character device, not a regular file";
    case SpecialFile::kSymlinkLoop: return "symbolic links";
  }
  return "?";
}

// Makes `path` (in an existing folder, not there yet) a FIFO, a bound Unix
// socket, a symlink to /dev/zero, or one end of a two-link symlink loop.
inline void MakeSpecialFile(SpecialFile kind, const std::string& path) {
  switch (kind) {
    case SpecialFile::kFifo:
      ASSERT_EQ(::mkfifo(path.c_str(), 0644), 0) << path << ": " << std::strerror(errno);
      return;
    case SpecialFile::kSocket: {
      // A socket's path must fit in sun_path (108 bytes) and test folders
      // are deeper: bind a name relative to the folder, from inside it.
      const std::string dir = DirectoryOf(path);
      const std::string name = BaseNameOf(path);
      char cwd[PATH_MAX];
      ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
      ASSERT_EQ(::chdir(dir.c_str()), 0) << dir;
      const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un address{};
      address.sun_family = AF_UNIX;
      std::snprintf(address.sun_path, sizeof address.sun_path, "%s", name.c_str());
      const int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
      ::close(fd);  // the socket's file stays
      ASSERT_EQ(::chdir(cwd), 0);
      ASSERT_EQ(bound, 0) << path << ": " << std::strerror(errno);
      return;
    }
    case SpecialFile::kDevZero:
      ASSERT_EQ(::symlink("/dev/zero", path.c_str()), 0) << path;
      return;
    case SpecialFile::kSymlinkLoop:
      ASSERT_EQ(::symlink((path + ".loop").c_str(), path.c_str()), 0) << path;
      ASSERT_EQ(::symlink(path.c_str(), (path + ".loop").c_str()), 0) << path;
      return;
  }
}

// The first word `command` prints (an oracle's digest: sha256sum's, git
// hash-object's); fails the test if the command fails.
inline std::string FirstWordOf(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr) << command;
  if (pipe == nullptr) return "";
  std::string out;
  char buffer[256];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
  EXPECT_EQ(::pclose(pipe), 0) << command;
  return out.substr(0, out.find_first_of(" \n"));
}

inline std::string Sha256sumOf(const std::string& path) {
  return FirstWordOf("sha256sum '" + path + "'");
}

inline std::string GitHashObjectOf(const std::string& path) {
  return FirstWordOf("git hash-object --no-filters '" + path + "'");
}

inline void WriteBytes(const std::string& path, const std::string& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
  ASSERT_EQ(std::fclose(f), 0);
}

// Stores `bytes` in `repo`/blobs/ as huggingface_hub does, under the name
// the oracle gives (sha256sum for LFS files, git hash-object for small
// ones); returns that name.
inline std::string AddHubBlob(const std::string& repo, const std::string& bytes, bool lfs) {
  const std::string staging = repo + "/staging";
  WriteBytes(staging, bytes);
  const std::string name = lfs ? Sha256sumOf(staging) : GitHashObjectOf(staging);
  EXPECT_EQ(name.size(), lfs ? 64u : 40u);
  std::filesystem::create_directories(repo + "/blobs");
  std::filesystem::rename(staging, repo + "/blobs/" + name);
  return name;
}

// snapshots/<revision>/<name> as a relative symlink to blobs/<blob>, as
// huggingface_hub links (../../blobs/<blob>, deeper for subfolders).
inline void LinkHubSnapshot(const std::string& repo, const std::string& revision,
                            const std::string& name, const std::string& blob) {
  const std::string path = repo + "/snapshots/" + revision + "/" + name;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::string up = "../../";
  for (char c : name) {
    if (c == '/') up += "../";
  }
  std::filesystem::create_symlink(up + "blobs/" + blob, path);
}

// Where a special file stands in a checkpoint made by MakeCheckpointWith.
enum class SpecialPlace {
  kFile,    // the path given is itself the special file
  kShard,   // the second shard an index names
  kIndex,   // model.safetensors.index.json
};

inline const char* SpecialPlaceName(SpecialPlace place) {
  switch (place) {
    case SpecialPlace::kFile: return "file";
    case SpecialPlace::kShard: return "shard";
    case SpecialPlace::kIndex: return "index";
  }
  return "?";
}

// Makes `dir` (anew) a copy of testdata/checkpoints/valid_two_shards (the
// test needs //testdata:checkpoints) with `kind` at `place`; returns the path
// to hand a loader: the special file itself for kFile, else the folder.
inline std::string MakeCheckpointWith(SpecialFile kind, SpecialPlace place,
                                      const std::string& dir) {
  namespace fs = std::filesystem;
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string source = "testdata/checkpoints/valid_two_shards/";
  for (const char* name : {"model.safetensors.index.json", "model-00001-of-00002.safetensors",
                           "model-00002-of-00002.safetensors"}) {
    fs::copy_file(source + name, dir + "/" + name);
  }
  std::string special;
  switch (place) {
    case SpecialPlace::kFile: special = dir + "/lone.safetensors"; break;
    case SpecialPlace::kShard: special = dir + "/model-00002-of-00002.safetensors"; break;
    case SpecialPlace::kIndex: special = dir + "/model.safetensors.index.json"; break;
  }
  fs::remove(special);
  MakeSpecialFile(kind, special);
  return place == SpecialPlace::kFile ? special : dir;
}

}  // namespace testing
}  // namespace safetensors

#endif  // SAFETENSORS_IO_TEST_UTIL_H_
