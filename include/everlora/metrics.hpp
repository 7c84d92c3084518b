// everlora — metrics: the accuracy matrix R of a continual run, the pinned metrics (AA, BWT, FWT,
// F.Ra, LA), text/CSV/JSON reports and SVG plots written without a plotting dependency.
//   #include <everlora/metrics.hpp>
#ifndef EVERLORA_METRICS_HPP
#define EVERLORA_METRICS_HPP

#include "everlora/metrics/accuracy_matrix.hpp"
#include "everlora/metrics/svg.hpp"
#include "everlora/metrics/report.hpp"

#endif  // EVERLORA_METRICS_HPP
