// everlora — a progress bar for long loops (pretraining, evaluation, corpus building).
//   Progress bar(steps, "pretrain");
//   for (long s = 0; s < steps; ++s) { ...; bar.update(1, "loss " + std::to_string(loss)); }
//   bar.finish();
// On a terminal (stderr is a TTY) one line is redrawn in place, at most ~10 times a second:
//   pretrain  42% [###########...............]  420/1000  35.2 it/s  ETA 0:16  loss 1.23
// Anywhere else (CI logs, pipes, files) it prints plain lines, one each 10% or 10 s, and never a
// carriage return. No colours or escape codes in either mode. Not thread-safe: update from one
// thread. Set EVERLORA_PROGRESS=off|plain|tty in the environment to override the automatic choice.
#ifndef EVERLORA_UTIL_PROGRESS_HPP
#define EVERLORA_UTIL_PROGRESS_HPP

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <limits>
#include <string>
#include <utility>

#include "everlora/util/timer.hpp"

#if defined(_WIN32)
#include <io.h>
#elif defined(__unix__) || defined(__APPLE__)
#include <sys/ioctl.h>
#include <unistd.h>
#define EVERLORA_PROGRESS_POSIX 1
#endif

namespace everlora {

/// How a Progress draws itself.
enum class ProgressMode {
  automatic,  ///< tty when the stream is stderr/stdout on a terminal (TERM not "dumb"), else plain
  tty,        ///< one line redrawn in place with a carriage return
  plain,      ///< whole lines, now and then
  silent,     ///< nothing
};

struct ProgressOptions {
  ProgressMode mode = ProgressMode::automatic;
  std::ostream* out = nullptr;    // nullptr: std::cerr
  std::function<double()> clock;  // seconds on a monotonic clock; empty: monotonic_seconds()
  std::string unit = "it";        // what is counted: "it/s", "tok/s", ...
  int columns = 0;                // tty line width; 0: the terminal's (else $COLUMNS, else 80)
  double redraw_interval = 0.1;   // tty: at most one redraw per this many seconds
  double line_percent = 10.0;     // plain: a line each time another this many percent are done
  double line_interval = 10.0;    // plain: or when this many seconds passed since the last line
};

namespace detail {

/// "35.2 it/s", or "2.50 s/it" below one item a second, or "? it/s" before any time has passed.
inline std::string format_rate(double rate, const std::string& unit) {
  if (!(rate > 0.0) || !std::isfinite(rate)) return "? " + unit + "/s";
  const bool per_second = rate >= 1.0;
  const double v = per_second ? rate : 1.0 / rate;
  char buf[64];
  // Thresholds on the rounded value, so 99.99 prints as "100", not "100.0".
  std::snprintf(buf, sizeof buf, v >= 99.95 ? "%.0f" : v >= 9.995 ? "%.1f" : "%.2f", v);
  return per_second ? std::string(buf) + " " + unit + "/s" : std::string(buf) + " s/" + unit;
}

/// The file descriptor behind a standard stream (2 for cerr/clog, 1 for cout), else -1.
inline int stream_fd(const std::ostream* out) {
  if (out == &std::cerr || out == &std::clog) return 2;
  if (out == &std::cout) return 1;
  return -1;
}

inline bool fd_is_terminal(int fd) {
#if defined(_WIN32)
  return fd >= 0 && _isatty(fd) != 0;
#elif defined(EVERLORA_PROGRESS_POSIX)
  return fd >= 0 && isatty(fd) != 0;
#else
  (void)fd;
  return false;
#endif
}

/// The terminal width of fd, else $COLUMNS, else 80.
inline int terminal_columns(int fd) {
#if defined(EVERLORA_PROGRESS_POSIX) && defined(TIOCGWINSZ)
  struct winsize ws {};
  if (fd >= 0 && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
#else
  (void)fd;
#endif
  if (const char* env = std::getenv("COLUMNS")) {
    const int c = std::atoi(env);
    if (c > 0) return c;
  }
  return 80;
}

inline ProgressMode resolve_progress_mode(ProgressMode mode, const std::ostream* out) {
  if (mode != ProgressMode::automatic) return mode;
  if (const char* env = std::getenv("EVERLORA_PROGRESS")) {
    const std::string v = env;
    if (v == "off" || v == "0" || v == "silent") return ProgressMode::silent;
    if (v == "plain") return ProgressMode::plain;
    if (v == "tty") return ProgressMode::tty;
  }
  const char* term = std::getenv("TERM");
  const bool dumb = term && std::strcmp(term, "dumb") == 0;
  return fd_is_terminal(stream_fd(out)) && !dumb ? ProgressMode::tty : ProgressMode::plain;
}

/// Cuts s to at most n bytes without splitting a UTF-8 sequence.
inline void truncate_utf8(std::string& s, std::size_t n) {
  if (s.size() <= n) return;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
}

}  // namespace detail

/// A progress bar over `total` items (total ≤ 0: unknown, shows the count and rate only).
/// See the file comment for what it prints.
class Progress {
 public:
  Progress(long total, std::string label, ProgressOptions options = {})
      : options_(std::move(options)), total_(total), label_(std::move(label)) {
    out_ = options_.out ? options_.out : &std::cerr;
    mode_ = detail::resolve_progress_mode(options_.mode, out_);
    if (!options_.clock) options_.clock = monotonic_seconds;
    if (options_.unit.empty()) options_.unit = "it";
    columns_ = options_.columns > 0 ? options_.columns
                                    : detail::terminal_columns(detail::stream_fd(out_));
    columns_ = std::max(columns_, 20);
    start_ = last_line_ = options_.clock();
    uncaught_ = std::uncaught_exceptions();
    if (mode_ == ProgressMode::tty) draw_tty(start_, false);
  }
  /// Finishes the bar (marked "interrupted" when an exception is unwinding the stack).
  ~Progress() {
    if (finished_) return;
    try {
      if (std::uncaught_exceptions() > uncaught_) status_ += status_.empty() ? "interrupted" : " (interrupted)";
      finish();
    } catch (...) {
    }
  }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Counts n more items done and redraws if it is time to.
  void update(long n = 1) {
    if (finished_) return;
    count_ = std::max(0L, count_ + n);
    const double now = options_.clock();
    if (mode_ == ProgressMode::tty) {
      const bool reached = total_ > 0 && count_ >= total_ && !drawn_full_;
      if (reached || now - last_draw_ >= options_.redraw_interval) draw_tty(now, false);
    } else if (mode_ == ProgressMode::plain) {
      if (total_ > 0 && count_ >= total_) return;  // finish() prints the last line
      const long bucket = percent_bucket();
      if (bucket > last_bucket_ || now - last_line_ >= options_.line_interval) {
        last_bucket_ = std::max(bucket, last_bucket_);
        last_line_ = now;
        write_line(render(now, false, false) + "\n");
      }
    }
  }
  /// The same, and shows `status` (e.g. "loss 1.23") from now on.
  void update(long n, const std::string& status) {
    set_status(status);
    update(n);
  }
  /// Replaces the status text without counting anything (shown at the next redraw).
  void set_status(const std::string& status) {
    status_ = status;
    for (char& c : status_)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';  // keep the line one line
  }
  /// Prints a message on its own line (above the bar on a terminal, which is then redrawn).
  void print(const std::string& message) {
    if (mode_ == ProgressMode::silent) return;
    if (mode_ == ProgressMode::tty && !finished_) {
      std::string line = "\r" + message;
      if (message.size() < last_len_) line.append(last_len_ - message.size(), ' ');
      write_line(line + "\n");
      last_len_ = 0;
      draw_tty(options_.clock(), false);
    } else {
      write_line(message + "\n");
    }
  }
  /// Draws the final state with the total time and ends the line. Later updates are ignored.
  void finish() {
    if (finished_) return;
    finished_ = true;
    const double now = options_.clock();
    if (mode_ == ProgressMode::tty) draw_tty(now, true);
    if (mode_ == ProgressMode::plain) write_line(render(now, true, false) + "\n");
  }
  void finish(const std::string& status) {
    set_status(status);
    finish();
  }

  long count() const { return count_; }
  long total() const { return total_; }
  bool finished() const { return finished_; }
  /// The mode in use (automatic resolved to tty or plain).
  ProgressMode mode() const { return mode_; }
  /// Seconds since construction, on the bar's clock.
  double elapsed() const { return options_.clock() - start_; }

 private:
  long percent_bucket() const {
    if (total_ <= 0 || !(options_.line_percent > 0.0)) return 0;
    const double pct = 100.0 * static_cast<double>(count_) / static_cast<double>(total_);
    return static_cast<long>(std::floor(pct / options_.line_percent + 1e-9));
  }

  /// One status line; with_bar adds the bar, filling the width left in columns_.
  std::string render(double now, bool final, bool with_bar) const {
    const double elapsed_s = now - start_;
    const double rate = elapsed_s > 0.0 ? static_cast<double>(count_) / elapsed_s : 0.0;
    char buf[96];
    std::string head = label_, tail;
    double fraction = 0.0;
    if (total_ > 0) {
      fraction = std::min(1.0, static_cast<double>(count_) / static_cast<double>(total_));
      std::snprintf(buf, sizeof buf, " %3d%%", static_cast<int>(std::floor(100.0 * fraction)));
      head += buf;
      std::snprintf(buf, sizeof buf, "  %ld/%ld", count_, total_);
    } else {
      std::snprintf(buf, sizeof buf, "  %ld %s", count_, options_.unit.c_str());
    }
    tail += buf;
    tail += "  " + detail::format_rate(rate, options_.unit);
    if (final)
      tail += "  in " + format_duration(elapsed_s);
    else if (total_ > 0 && count_ < total_)
      tail += "  ETA " + (count_ > 0 && rate > 0.0
                              ? format_duration(static_cast<double>(total_ - count_) / rate)
                              : std::string("?:??"));
    if (!status_.empty()) tail += "  " + status_;

    if (!with_bar || total_ <= 0) return head + tail;
    // The bar takes what is left of the line, 8 to 30 cells; no bar when less than 8 fit.
    const long room = static_cast<long>(columns_) - 1 - static_cast<long>(head.size() + tail.size()) - 3;
    const long cells = std::min(30L, room);
    if (cells < 8) return head + tail;
    const long filled = static_cast<long>(std::floor(fraction * static_cast<double>(cells)));
    return head + " [" + std::string(static_cast<std::size_t>(filled), '#') +
           std::string(static_cast<std::size_t>(cells - filled), '.') + "]" + tail;
  }

  void draw_tty(double now, bool final) {
    std::string line = render(now, final, true);
    detail::truncate_utf8(line, static_cast<std::size_t>(columns_ - 1));
    const std::size_t len = line.size();
    if (len < last_len_) line.append(last_len_ - len, ' ');  // cover the longer previous line
    write_line("\r" + line + (final ? "\n" : ""));
    last_len_ = len;
    last_draw_ = now;
    if (total_ > 0 && count_ >= total_) drawn_full_ = true;
  }

  void write_line(const std::string& s) {
    out_->write(s.data(), static_cast<std::streamsize>(s.size()));
    out_->flush();
  }

  ProgressOptions options_;
  std::ostream* out_ = nullptr;
  ProgressMode mode_ = ProgressMode::plain;
  long total_;
  long count_ = 0;
  std::string label_;
  std::string status_;
  int columns_ = 80;
  double start_ = 0.0;
  double last_draw_ = -std::numeric_limits<double>::infinity();
  double last_line_ = 0.0;
  long last_bucket_ = 0;
  std::size_t last_len_ = 0;
  bool drawn_full_ = false;
  bool finished_ = false;
  int uncaught_ = 0;
};

}  // namespace everlora

#ifdef EVERLORA_PROGRESS_POSIX
#undef EVERLORA_PROGRESS_POSIX
#endif

#endif  // EVERLORA_UTIL_PROGRESS_HPP
