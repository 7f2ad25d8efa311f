#include "tools/progress_bar.h"

#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_format.h"

namespace safetensors {
namespace cli {

bool ProgressBar::StderrIsTerminal() { return ::isatty(STDERR_FILENO) == 1; }

void ProgressBar::Update(uint64_t done, uint64_t total) {
  if (!enabled_) return;
  done = std::min(done, total);
  const int per_mille =
      total == 0 ? 1000
                 : static_cast<int>(static_cast<double>(done) / static_cast<double>(total) * 1000);
  if (per_mille == shown_per_mille_) return;
  shown_per_mille_ = per_mille;
  constexpr int kWidth = 30;
  const int filled = per_mille * kWidth / 1000;
  // \r and "erase to end of line": the line is redrawn in place.
  out_ << absl::StrFormat("\r\033[K%s [%s%s] %.1f of %.1f GB, %d%%", label_,
                          std::string(static_cast<size_t>(filled), '#'),
                          std::string(static_cast<size_t>(kWidth - filled), ' '),
                          static_cast<double>(done) / 1e9, static_cast<double>(total) / 1e9,
                          per_mille / 10)
       << std::flush;
}

void ProgressBar::Finish() {
  if (!enabled_ || shown_per_mille_ < 0) return;
  out_ << "\r\033[K" << std::flush;
  shown_per_mille_ = -1;
}

}  // namespace cli
}  // namespace safetensors
