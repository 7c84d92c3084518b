// everlora — learning-rate schedules: pure functions of the step index, so a resumed run (whose
// optimizer restored step_count()) continues on the same curve.
//   WarmupCosine schedule{3e-4, 100, 2000, 3e-5};   // base, warm-up steps, total steps, floor
//   for (...) { opt.set_lr(schedule(opt.step_count())); ...; opt.step(); }
// @sa docs/concepts/optim.md
#ifndef EVERLORA_OPTIM_SCHEDULE_HPP
#define EVERLORA_OPTIM_SCHEDULE_HPP

#include <cmath>
#include <functional>
#include <string>

#include "everlora/core/error.hpp"
#include "everlora/optim/optimizer.hpp"

namespace everlora {

/// Any schedule: step index (0 for the first step) → learning rate.
using LrSchedule = std::function<double(long step)>;

/// The same learning rate at every step.
struct ConstantLr {
  double lr;

  /// Throws Error(config) unless lr is finite and >= 0.
  explicit ConstantLr(double lr_value) : lr(lr_value) { detail::check_lr(lr, "ConstantLr"); }
  double operator()(long /*step*/) const { return lr; }
};

/// Linear warm-up to base_lr, then a half cosine down to min_lr, then min_lr:
///   step < warmup_steps:            base_lr · (step + 1) / warmup_steps
///   warmup_steps ≤ step < total:    min_lr + (base_lr − min_lr) · (1 + cos(π·t)) / 2,
///                                   t = (step − warmup_steps) / (total_steps − warmup_steps)
///   step ≥ total_steps:             min_lr
/// So the first step already learns (base_lr / warmup_steps), the last warm-up step and the first
/// cosine step use base_lr, and the curve reaches min_lr at step total_steps. Negative steps count
/// as 0. warmup_steps = 0 starts on the cosine.
struct WarmupCosine {
  double base_lr;
  long warmup_steps;
  long total_steps;
  double min_lr;

  /// Throws Error(config) naming the bad field: lrs finite and ≥ 0, min_lr ≤ base_lr,
  /// 0 ≤ warmup_steps ≤ total_steps, total_steps ≥ 1.
  WarmupCosine(double base, long warmup, long total, double floor_lr = 0.0)
      : base_lr(base), warmup_steps(warmup), total_steps(total), min_lr(floor_lr) {
    const char* api = "WarmupCosine";
    detail::check_hyperparameter(std::isfinite(base_lr) && base_lr >= 0.0, api, "base_lr", base_lr,
                                 "must be finite and >= 0");
    detail::check_hyperparameter(std::isfinite(min_lr) && min_lr >= 0.0 && min_lr <= base_lr, api,
                                 "min_lr", min_lr, "must be in [0, base_lr]");
    detail::check_hyperparameter(total_steps >= 1, api, "total_steps",
                                 static_cast<double>(total_steps), "must be >= 1");
    detail::check_hyperparameter(warmup_steps >= 0 && warmup_steps <= total_steps, api,
                                 "warmup_steps", static_cast<double>(warmup_steps),
                                 "must be in [0, total_steps]");
  }

  double operator()(long step) const {
    if (step < 0) step = 0;
    if (step < warmup_steps)
      return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
    if (step >= total_steps) return min_lr;
    const double t = static_cast<double>(step - warmup_steps) /
                     static_cast<double>(total_steps - warmup_steps);
    const double pi = 3.14159265358979323846;
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + std::cos(pi * t));
  }
};

}  // namespace everlora

#endif  // EVERLORA_OPTIM_SCHEDULE_HPP
