// everlora — a tiny SVG writer and the plots of a continual run: the R heat map, each task's score
// over time, and grouped bars for the summary. No plotting dependency: each function returns a
// standalone SVG document (xmlns, viewBox, width and height) that browsers open as is.
//   write_file_atomically("R.svg", svg_heatmap(r.rows(), row_labels, task_names, "seq_lora: R"));
// @sa docs/concepts/metrics.md
#ifndef EVERLORA_METRICS_SVG_HPP
#define EVERLORA_METRICS_SVG_HPP

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "everlora/core/error.hpp"

namespace everlora {

namespace detail {

/// `v` with `decimals` digits after the point; "n/a" for NaN. Never "-0.00": a value that rounds
/// to zero prints as zero.
inline std::string fixed(double v, int decimals) {
  if (std::isnan(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  if (buf[0] == '-' && std::strspn(buf + 1, "0.") == std::strlen(buf + 1)) return buf + 1;
  return buf;
}

/// `text` safe inside XML text and attribute values: & < > " ' become entities, and control bytes
/// (which XML 1.0 forbids) become spaces.
inline std::string xml_escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    }
  }
  return out;
}

/// Width in px of `text` in the sans-serif font at `size` px, estimated at 0.6 em per character.
inline double text_width(const std::string& text, double size) {
  return 0.6 * size * static_cast<double>(text.size());
}

/// The i-th color of the Tableau 10 palette (cycling).
inline std::string palette_color(std::size_t i) {
  static const std::array<const char*, 10> colors = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2",
                                                     "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
                                                     "#9c755f", "#bab0ac"};
  return colors[i % colors.size()];
}

/// A color of the heat-map scale.
struct ScaleColor {
  std::string hex;  ///< "#rrggbb"
  bool dark;        ///< whether white text reads better on it than black
};

/// The viridis color map (perceptually uniform, readable in grey and by the color blind) at `t` in
/// [0, 1] (clamped), linear between 9 samples of the map.
inline ScaleColor viridis(double t) {
  static const double samples[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},
                                       {44, 113, 142}, {33, 144, 141}, {39, 173, 129},
                                       {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
  const double x = std::clamp(t, 0.0, 1.0) * 8.0;
  const int lo = std::min(static_cast<int>(x), 7);
  const double f = x - lo;
  double rgb[3];
  for (int c = 0; c < 3; ++c) rgb[c] = samples[lo][c] + f * (samples[lo + 1][c] - samples[lo][c]);
  char hex[8];
  std::snprintf(hex, sizeof hex, "#%02x%02x%02x", static_cast<int>(std::lround(rgb[0])),
                static_cast<int>(std::lround(rgb[1])), static_cast<int>(std::lround(rgb[2])));
  const double luminance = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255.0;
  return {hex, luminance < 0.45};
}

/// A coordinate or length as SVG text: one decimal.
inline std::string svg_number(double v) { return fixed(v, 1); }

/// ` class="<cls>"`, or nothing for an empty class.
inline std::string class_attr(const std::string& cls) {
  return cls.empty() ? "" : " class=\"" + xml_escape(cls) + "\"";
}

/// A text element: position and content (escaped on output); how it is drawn is set by chaining,
///   doc.text(SvgText(x, y, "0.5").anchor("end").size(11).css("y-tick"));
class SvgText {
 public:
  SvgText(double x, double y, std::string content) : x_(x), y_(y), content_(std::move(content)) {}

  /// "start", "middle" (the default) or "end".
  SvgText& anchor(std::string a) {
    anchor_ = std::move(a);
    return *this;
  }
  SvgText& size(double px) {
    size_ = px;
    return *this;
  }
  /// Turns the text by `degrees` about its anchor point; negative is counter-clockwise.
  SvgText& rotate(double degrees) {
    rotate_ = degrees;
    return *this;
  }
  SvgText& fill(std::string color) {
    fill_ = std::move(color);
    return *this;
  }
  SvgText& css(std::string cls) {
    cls_ = std::move(cls);
    return *this;
  }
  SvgText& bold() {
    bold_ = true;
    return *this;
  }

  /// The `<text>` element.
  std::string markup() const {
    const std::string x = svg_number(x_), y = svg_number(y_);
    std::string out = "<text" + class_attr(cls_) + " x=\"" + x + "\" y=\"" + y +
                      "\" text-anchor=\"" + anchor_ + "\" font-size=\"" + svg_number(size_) +
                      "\" fill=\"" + fill_ + "\"";
    if (bold_) out += " font-weight=\"bold\"";
    if (rotate_ != 0)
      out += " transform=\"rotate(" + svg_number(rotate_) + " " + x + " " + y + ")\"";
    return out + ">" + xml_escape(content_) + "</text>\n";
  }

 private:
  double x_, y_;
  std::string content_;
  std::string anchor_ = "middle";
  double size_ = 12;
  double rotate_ = 0;
  std::string fill_ = "#222";
  std::string cls_;
  bool bold_ = false;
};

/// Builds a standalone SVG document element by element; str() closes it.
class SvgDocument {
 public:
  SvgDocument(double width, double height) : width_(width), height_(height) {
    rect(0, 0, width, height, "#ffffff", "background");
  }

  void rect(double x, double y, double w, double h, const std::string& fill,
            const std::string& cls = "") {
    body_ += "<rect" + class_attr(cls) + " x=\"" + px(x) + "\" y=\"" + px(y) + "\" width=\"" +
             px(w) + "\" height=\"" + px(h) + "\" fill=\"" + fill + "\"/>\n";
  }

  void line(double x1, double y1, double x2, double y2, const std::string& stroke,
            const std::string& cls = "", bool dashed = false) {
    body_ += "<line" + class_attr(cls) + " x1=\"" + px(x1) + "\" y1=\"" + px(y1) + "\" x2=\"" +
             px(x2) + "\" y2=\"" + px(y2) + "\" stroke=\"" + stroke + "\"" +
             (dashed ? " stroke-dasharray=\"3 3\"" : "") + "/>\n";
  }

  void polyline(const std::vector<std::pair<double, double>>& points, const std::string& stroke) {
    std::string coords;
    for (const auto& [x, y] : points) coords += (coords.empty() ? "" : " ") + px(x) + "," + px(y);
    body_ += "<polyline class=\"series\" points=\"" + coords + "\" fill=\"none\" stroke=\"" +
             stroke + "\" stroke-width=\"2\"/>\n";
  }

  void circle(double cx, double cy, double r, const std::string& fill) {
    body_ += "<circle cx=\"" + px(cx) + "\" cy=\"" + px(cy) + "\" r=\"" + px(r) + "\" fill=\"" +
             fill + "\"/>\n";
  }

  void text(const SvgText& t) { body_ += t.markup(); }

  /// The whole document.
  std::string str() const {
    const std::string w = px(width_), h = px(height_);
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + w + "\" height=\"" + h +
           "\" viewBox=\"0 0 " + w + " " + h + "\" font-family=\"sans-serif\">\n" + body_ +
           "</svg>\n";
  }

 private:
  static std::string px(double v) { return svg_number(v); }

  double width_, height_;
  std::string body_;
};

constexpr double kPlotTop = 44;       // the title sits above the plot
constexpr double kLabelSize = 12;     // tick and legend labels (the default text size)
constexpr double kMargin = 12;        // outer margin
constexpr double kXLabelAngle = -35;  // x labels that do not fit their slot are turned by this
constexpr double kYAxisWidth = kMargin + kLabelSize + 48;  // the y label and the tick labels

/// The width a document needs for `title` (bold, 15 px) and its margins.
inline double title_width(const std::string& title) {
  return 1.1 * text_width(title, 15) + 2 * kMargin;
}

/// The title, centred at the top.
inline void draw_title(SvgDocument& doc, double width, const std::string& title) {
  doc.text(SvgText(width / 2, 24, title).size(15).bold().css("title"));
}

/// How x labels under slots of `slot` px are laid out: straight if all fit, else turned.
struct XLabels {
  bool turned;
  double height;    ///< of the band below the plot
  double overhang;  ///< how far the first label reaches left of its slot's centre
};

inline XLabels layout_x_labels(const std::vector<std::string>& labels, double slot) {
  double widest = 0;
  for (const auto& l : labels) widest = std::max(widest, text_width(l, kLabelSize));
  if (widest <= slot - 4) return {false, kLabelSize + 10, 0};
  const double angle = -kXLabelAngle * std::acos(-1.0) / 180.0;
  const double first = labels.empty() ? 0 : text_width(labels.front(), kLabelSize);
  return {true, widest * std::sin(angle) + kLabelSize + 10, first * std::cos(angle)};
}

/// Labels centred under the slots [x0 + i·slot, x0 + (i+1)·slot), from baseline y.
inline void draw_x_labels(SvgDocument& doc, const std::vector<std::string>& labels,
                          const XLabels& layout, double x0, double slot, double y) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double cx = x0 + (static_cast<double>(i) + 0.5) * slot;
    if (layout.turned)
      doc.text(
          SvgText(cx, y + kLabelSize, labels[i]).anchor("end").rotate(kXLabelAngle).css("x-label"));
    else
      doc.text(SvgText(cx, y + kLabelSize + 2, labels[i]).css("x-label"));
  }
}

constexpr double kLegendRow = kLabelSize + 6;

/// A legend entry per name (a swatch in the name's palette color, then the name), top-left at
/// (x, y), one row of kLegendRow px each.
inline void draw_legend(SvgDocument& doc, const std::vector<std::string>& names, double x,
                        double y) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    const double cy = y + (static_cast<double>(i) + 0.5) * kLegendRow;
    doc.rect(x, cy - 5, 14, 10, palette_color(i), "legend");
    doc.text(SvgText(x + 20, cy + 4, names[i]).anchor("start").css("legend"));
  }
}

/// Width of a legend for `names`, right margin included.
inline double legend_width(const std::vector<std::string>& names) {
  double widest = 0;
  for (const auto& n : names) widest = std::max(widest, text_width(n, kLabelSize));
  return names.empty() ? 0 : widest + 20 + kMargin;
}

/// The plot area and its y scale: values lo..hi map to y + h .. y.
struct PlotArea {
  double x, y, w, h;
  double lo, hi;
  double y_of(double v) const { return y + h - (std::clamp(v, lo, hi) - lo) / (hi - lo) * h; }
};

/// Horizontal gridlines with tick labels every `step` from lo to hi, the frame's left and bottom
/// edges, and `y_label` turned along the axis.
inline void draw_y_axis(SvgDocument& doc, const PlotArea& p, double step,
                        const std::string& y_label) {
  const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  const int ticks = static_cast<int>(std::lround((p.hi - p.lo) / step));
  for (int i = 0; i <= ticks; ++i) {
    const double v = p.lo + i * step, y = p.y_of(v);
    doc.line(p.x, y, p.x + p.w, y, "#dddddd", "grid", true);
    doc.text(SvgText(p.x - 6, y + 4, fixed(v, decimals))
                 .anchor("end")
                 .size(11)
                 .fill("#444")
                 .css("y-tick"));
  }
  doc.line(p.x, p.y, p.x, p.y + p.h, "#444444", "axis");
  doc.line(p.x, p.y + p.h, p.x + p.w, p.y + p.h, "#444444", "axis");
  doc.text(SvgText(kMargin + kLabelSize, p.y + p.h / 2, y_label).rotate(-90).css("axis-label"));
}

/// Throws Error(value) unless every series has one value per label.
inline void check_series(const char* api, const std::vector<std::string>& labels,
                         const std::vector<std::pair<std::string, std::vector<double>>>& series) {
  for (const auto& [name, values] : series)
    if (values.size() != labels.size())
      throw Error(ErrorKind::value, std::string(api) + ": series '" + name + "' has " +
                                        std::to_string(values.size()) + " values for " +
                                        std::to_string(labels.size()) + " labels");
}

/// The names of `series`, in order.
inline std::vector<std::string> series_names(
    const std::vector<std::pair<std::string, std::vector<double>>>& series) {
  std::vector<std::string> names;
  for (const auto& s : series) names.push_back(s.first);
  return names;
}

/// A round step ({1, 2, 5}·10^k) giving about five intervals over `span` > 0.
inline double nice_step(double span) {
  const double raw = span / 5, magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0})
    if (raw <= m * magnitude) return m * magnitude;
  return 10 * magnitude;
}

/// A vertical color bar for the 0..100 scale of svg_heatmap, `h` px tall at (x, y).
inline void draw_color_scale(SvgDocument& doc, double x, double y, double h) {
  constexpr int kSlices = 20;
  const double slice = h / kSlices;
  for (int i = 0; i < kSlices; ++i)  // top slice = 100; slices overlap by 0.5 px to hide seams
    doc.rect(x, y + i * slice, 14, slice + 0.5, viridis(1.0 - (i + 0.5) / kSlices).hex, "scale");
  for (const double v : {0.0, 50.0, 100.0})
    doc.text(SvgText(x + 18, y + h - v / 100 * h + 4, fixed(v, 0))
                 .anchor("start")
                 .size(11)
                 .fill("#444"));
}

/// One series of a line chart: a polyline through each run of finite values (NaN breaks the line)
/// and a marker on every finite value; point i sits at the centre of slot i.
inline void draw_series(SvgDocument& doc, const PlotArea& p, double slot,
                        const std::vector<double>& values, const std::string& color) {
  std::vector<std::pair<double, double>> run;
  const auto flush = [&] {
    if (run.size() >= 2) doc.polyline(run, color);
    run.clear();
  };
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(values[i])) {
      flush();
      continue;
    }
    run.emplace_back(p.x + (static_cast<double>(i) + 0.5) * slot, p.y_of(values[i]));
    doc.circle(run.back().first, run.back().second, 3.5, color);
  }
  flush();
}

/// A bar of value `v` from the zero line, `w` px wide at x, its value printed past its end; NaN
/// gets no bar, only "n/a" on the zero line.
inline void draw_bar(SvgDocument& doc, const PlotArea& p, double x, double w, double v,
                     const std::string& color) {
  const double zero = p.y_of(0), end = std::isnan(v) ? zero : p.y_of(v);
  if (!std::isnan(v)) doc.rect(x, std::min(zero, end), w, std::abs(zero - end), color, "bar");
  doc.text(SvgText(x + w / 2, v < 0 ? end + 12 : end - 4, fixed(v, 1)).size(10).css("bar-value"));
}

/// The y range of a bar chart: it holds 0 and every finite value, on multiples of `step`, with
/// room for the value labels; 0..100 when there is nothing to show.
struct BarRange {
  double lo, hi, step;
};

inline BarRange bar_range(const std::vector<std::pair<std::string, std::vector<double>>>& series) {
  double lo = 0, hi = 0;
  for (const auto& s : series)
    for (const double v : s.second)
      if (std::isfinite(v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
  if (hi == lo) return {0, 100, 20};
  const double step = nice_step(hi - lo), pad = 0.1 * (hi - lo);
  return {std::floor((lo < 0 ? lo - pad : 0) / step) * step, std::ceil((hi + pad) / step) * step,
          step};
}

}  // namespace detail

/// A heat map of `values` (rows × columns of scores in percent): each cell colored on the viridis
/// scale over 0..100 with its value printed (one decimal); NaN cells are grey and blank. Row labels
/// on the left, column labels below, a color bar on the right, `title` on top. Throws Error(value)
/// when the labels do not match the shape of `values`.
inline std::string svg_heatmap(const std::vector<std::vector<double>>& values,
                               const std::vector<std::string>& row_labels,
                               const std::vector<std::string>& col_labels,
                               const std::string& title) {
  using namespace detail;
  if (values.size() != row_labels.size())
    throw Error(ErrorKind::value, "svg_heatmap: " + std::to_string(values.size()) +
                                      " rows of values but " + std::to_string(row_labels.size()) +
                                      " row labels");
  for (std::size_t i = 0; i < values.size(); ++i)
    if (values[i].size() != col_labels.size())
      throw Error(ErrorKind::value,
                  "svg_heatmap: row " + std::to_string(i) + " ('" + row_labels[i] + "') has " +
                      std::to_string(values[i].size()) + " values but there are " +
                      std::to_string(col_labels.size()) + " column labels");
  constexpr double kCellW = 64, kCellH = 30;
  double row_label_w = 0;
  for (const auto& l : row_labels) row_label_w = std::max(row_label_w, text_width(l, kLabelSize));
  const XLabels x_labels = layout_x_labels(col_labels, kCellW);
  const double x0 = kMargin + std::max(row_label_w + 8, x_labels.overhang - kCellW / 2);
  const double y0 = kPlotTop;
  const double grid_w = kCellW * static_cast<double>(col_labels.size());
  const double grid_h = kCellH * static_cast<double>(row_labels.size());
  const double scale_x = x0 + grid_w + 24, scale_h = std::max(grid_h, 90.0);
  const double width = std::max(scale_x + 14 + 30 + kMargin, title_width(title));
  const double height = y0 + std::max(grid_h + x_labels.height, scale_h + 8) + kMargin;

  SvgDocument doc(width, height);
  draw_title(doc, width, title);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double y = y0 + static_cast<double>(i) * kCellH;
    doc.text(SvgText(x0 - 8, y + kCellH / 2 + 4, row_labels[i]).anchor("end").css("y-label"));
    for (std::size_t j = 0; j < values[i].size(); ++j) {
      const double x = x0 + static_cast<double>(j) * kCellW, v = values[i][j];
      if (std::isnan(v)) {
        doc.rect(x, y, kCellW, kCellH, "#d9d9d9", "cell");
        continue;
      }
      const ScaleColor color = viridis(v / 100);
      doc.rect(x, y, kCellW, kCellH, color.hex, "cell");
      doc.text(SvgText(x + kCellW / 2, y + kCellH / 2 + 4, fixed(v, 1))
                   .size(11)
                   .fill(color.dark ? "#ffffff" : "#222")
                   .css("value"));
    }
  }
  draw_x_labels(doc, col_labels, x_labels, x0, kCellW, y0 + grid_h + 2);
  draw_color_scale(doc, scale_x, y0, scale_h);
  return doc.str();
}

/// The y axis of a line chart: from `lo` to `hi` with a gridline every `step`.
struct ChartAxis {
  double lo = 0, hi = 100, step = 20;
};

/// A line chart: one line with markers per series over the x labels (NaN breaks the line), the y
/// axis as `axis` says (scores in percent by default: 0..100, gridlines every 20), a legend on the
/// right, colors from the Tableau 10 palette. Throws Error(value) when a series does not have one
/// value per x label.
inline std::string svg_line_chart(
    const std::vector<std::string>& x_labels,
    const std::vector<std::pair<std::string, std::vector<double>>>& series,
    const std::string& title, const std::string& y_label, const ChartAxis& axis = {}) {
  using namespace detail;
  check_series("svg_line_chart", x_labels, series);
  const double n = static_cast<double>(std::max<std::size_t>(x_labels.size(), 1));
  const double plot_w = std::max(360.0, 64 * n), slot = plot_w / n;
  const XLabels x_layout = layout_x_labels(x_labels, slot);
  const double left = std::max(kYAxisWidth, kMargin + x_layout.overhang - slot / 2);
  if (!(axis.hi > axis.lo) || !(axis.step > 0))
    throw Error(ErrorKind::value, "svg_line_chart: the y axis needs lo < hi and step > 0");
  const PlotArea p{left, kPlotTop, plot_w, 260, axis.lo, axis.hi};
  const std::vector<std::string> names = series_names(series);
  const double legend_h = kLegendRow * static_cast<double>(names.size());
  const double width = std::max(p.x + p.w + 16 + legend_width(names) + kMargin, title_width(title));
  const double height = p.y + std::max(p.h + x_layout.height, legend_h) + kMargin;

  SvgDocument doc(width, height);
  draw_title(doc, width, title);
  draw_y_axis(doc, p, axis.step, y_label);
  draw_x_labels(doc, x_labels, x_layout, p.x, slot, p.y + p.h + 2);
  for (std::size_t i = 0; i < series.size(); ++i)
    draw_series(doc, p, slot, series[i].second, palette_color(i));
  draw_legend(doc, names, p.x + p.w + 16, p.y);
  return doc.str();
}

/// Grouped bars: for each group (e.g. a method) one bar per series (e.g. AA and BWT), colored by
/// series, its value printed past its end (one decimal). The y axis holds 0 and every value on
/// round ticks; a zero line is drawn when a value is negative. A NaN value gets no bar, only
/// "n/a". Throws Error(value) when a series does not have one value per group.
inline std::string svg_bar_chart(
    const std::vector<std::string>& groups,
    const std::vector<std::pair<std::string, std::vector<double>>>& series,
    const std::string& title, const std::string& y_label) {
  using namespace detail;
  check_series("svg_bar_chart", groups, series);
  const double bars = static_cast<double>(std::max<std::size_t>(series.size(), 1));
  const double slot = std::max(72.0, 24 * bars + 24);
  const double plot_w = slot * static_cast<double>(std::max<std::size_t>(groups.size(), 1));
  const XLabels x_layout = layout_x_labels(groups, slot);
  const BarRange range = bar_range(series);
  const double left = std::max(kYAxisWidth, kMargin + x_layout.overhang - slot / 2);
  const PlotArea p{left, kPlotTop, plot_w, 240, range.lo, range.hi};
  const std::vector<std::string> names = series_names(series);
  const double width = std::max(p.x + p.w + 16 + legend_width(names) + kMargin, title_width(title));
  const double height = p.y + p.h + x_layout.height + kMargin;

  SvgDocument doc(width, height);
  draw_title(doc, width, title);
  draw_y_axis(doc, p, range.step, y_label);
  if (range.lo < 0) doc.line(p.x, p.y_of(0), p.x + p.w, p.y_of(0), "#222222", "zero-line");
  const double bar_w = (slot - 20) / bars;  // 10 px of air on each side of a group
  for (std::size_t s = 0; s < series.size(); ++s)
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const double x = p.x + static_cast<double>(g) * slot + 10 + static_cast<double>(s) * bar_w;
      draw_bar(doc, p, x, bar_w - 2, series[s].second[g], palette_color(s));
    }
  draw_x_labels(doc, groups, x_layout, p.x, slot, p.y + p.h + 2);
  draw_legend(doc, names, p.x + p.w + 16, p.y);
  return doc.str();
}

}  // namespace everlora

#endif  // EVERLORA_METRICS_SVG_HPP
