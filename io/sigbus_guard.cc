#include "io/sigbus_guard.h"

#include <setjmp.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "parser/error.h"

namespace safetensors {
namespace {

struct Guard {
  const uint8_t* begin;
  const uint8_t* end;
  sigjmp_buf jump;
};

// The guard of this thread's read in progress, or null. A pointer in static
// TLS: safe to read in a signal handler.
thread_local Guard* current_guard = nullptr;

struct sigaction previous_action;

void OnSigbus(int signal, siginfo_t* info, void* context) {
  Guard* guard = current_guard;
  const uint8_t* address = static_cast<const uint8_t*>(info->si_addr);
  if (guard != nullptr && address >= guard->begin && address < guard->end) {
    current_guard = nullptr;
    siglongjmp(guard->jump, 1);
  }
  // Not ours: as the handler before this one would have it.
  if (previous_action.sa_flags & SA_SIGINFO) {
    previous_action.sa_sigaction(signal, info, context);
    return;
  }
  if (previous_action.sa_handler == SIG_IGN) return;
  if (previous_action.sa_handler != SIG_DFL) {
    previous_action.sa_handler(signal);
    return;
  }
  // The default: die of SIGBUS, once this handler is out of the way.
  ::signal(SIGBUS, SIG_DFL);
  ::raise(SIGBUS);
}

}  // namespace

absl::Status InstallSigbusGuard() {
  static std::once_flag once;
  static int error = 0;
  std::call_once(once, [] {
    struct sigaction action;
    std::memset(&action, 0, sizeof action);
    action.sa_sigaction = &OnSigbus;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    if (::sigaction(SIGBUS, &action, &previous_action) != 0) error = errno;
  });
  if (error != 0) return MakeIoError(error, "cannot install the SIGBUS handler");
  return absl::OkStatus();
}

bool RunGuarded(absl::Span<const uint8_t> range, absl::FunctionRef<void()> read) {
  Guard guard;
  guard.begin = range.data();
  guard.end = range.data() + range.size();
  // savemask 1: the jump out of the handler restores this thread's mask.
  if (sigsetjmp(guard.jump, 1) != 0) return false;
  current_guard = &guard;
  read();
  current_guard = nullptr;
  return true;
}

}  // namespace safetensors
