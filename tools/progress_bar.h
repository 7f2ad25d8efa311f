// A one-line progress display for long CLI work ("diff: 1.2 of 4.5 GB, 27%"),
// on stderr only when stderr is a terminal: pipes, files, captured output
// and --json output never see it.
//
//   ProgressBar bar("diff", std::cerr, ProgressBar::StderrIsTerminal());
//   for (...) bar.Update(done_bytes, total_bytes);
//   bar.Finish();  // erases the line
#ifndef SAFETENSORS_TOOLS_PROGRESS_BAR_H_
#define SAFETENSORS_TOOLS_PROGRESS_BAR_H_

#include <cstdint>
#include <ostream>
#include <string>

namespace safetensors {
namespace cli {

class ProgressBar {
 public:
  // Draws nothing unless `enabled`.
  ProgressBar(std::string label, std::ostream& out, bool enabled)
      : label_(std::move(label)), out_(out), enabled_(enabled) {}
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  ~ProgressBar() { Finish(); }

  static bool StderrIsTerminal();

  // Redraws the line when the shown per-mille changes (at most 1,001 draws
  // however many updates), so updating per tensor costs nothing.
  void Update(uint64_t done, uint64_t total);
  // Erases the line, if one was drawn; later updates draw again.
  void Finish();

 private:
  const std::string label_;
  std::ostream& out_;
  const bool enabled_;
  int shown_per_mille_ = -1;  // none drawn
};

}  // namespace cli
}  // namespace safetensors

#endif  // SAFETENSORS_TOOLS_PROGRESS_BAR_H_
