// output.hpp: where the demo's output goes and the writers it is made with:
// Console (results on stdout, live progress on stdout or stderr), Style
// (colour only on a terminal), JsonWriter, TextTable and csv_line().
#pragma once

#include <concepts>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "demo/cli/options.hpp"
#include "demo/command.hpp"
#include "demo/render/progress.hpp"

namespace demo {

// Style adds ANSI colour to text when enabled, and returns it unchanged
// otherwise.
class Style {
 public:
  explicit Style(bool color = false) : color_(color) {}
  std::string bold(std::string_view text) const { return paint("1", text); }
  std::string dim(std::string_view text) const { return paint("2", text); }
  // task() colours `text` with the colour of task number `index` (a cycle
  // of six).
  std::string task(std::string_view text, std::size_t index) const;

 private:
  std::string paint(std::string_view code, std::string_view text) const;
  bool color_;
};

// color_for() is whether text written to `stream` gets colour: only on a
// terminal, never with NO_COLOR set to a non-empty value (no-color.org),
// TERM=dumb or --no-color.
bool color_for(std::FILE* stream, const GlobalOptions& global);

// kDefaultColumns is the width human output fits when it does not go to a
// terminal.
inline constexpr int kDefaultColumns = 80;

// terminal_columns() is the width of the terminal `stream` writes to: the
// COLUMNS environment variable when set to a positive number, else the
// terminal's own (TIOCGWINSZ); kDefaultColumns when `stream` is not a
// terminal.
int terminal_columns(std::FILE* stream);

// wrap() breaks the lines of `text` wider than `width` columns at spaces; a
// continuation line is indented two columns more than its line. A word wider
// than the line stays whole.
std::string wrap(std::string_view text, int width);

// unicode_ok() is whether the locale is UTF-8 (for the bar chart's blocks).
bool unicode_ok();

// Console is where one subcommand's output goes. Results (table, JSON or
// CSV) always go to stdout. Human extras (live progress lines, the timeline,
// the summary) go to stdout in table mode; in json/csv mode to stderr, or
// nowhere with --quiet, so that stdout always parses. Human text is wrapped
// to width() unless `wide` (--wide); JSON and CSV never are.
class Console {
 public:
  Console(Format format, const GlobalOptions& global, bool wide = false);

  Format format() const noexcept { return format_; }
  const Style& style() const noexcept { return style_; }

  // width() is the columns human text fits: those of the terminal it goes
  // to, or kDefaultColumns.
  int width() const noexcept { return width_; }
  // table_width() is the columns a table may take (see TextTable::render):
  // width(), or 0 (no limit) with --wide.
  int table_width() const noexcept { return wide_ ? 0 : width_; }

  // result() writes to stdout.
  void result(std::string_view text);

  // extra() writes human-readable text (progress, timeline, summary) where
  // this format puts it; thread-safe, flushed at once.
  void extra(std::string_view text);

  // report() writes a run's outcome, one rule for every format: in table
  // mode `human` on stdout; in json and csv mode machine() on stdout and
  // `human` where extras go (stderr; nowhere with --quiet). The progress
  // line is gone by then.
  void report(std::string_view human, const std::function<std::string()>& machine);

  // progress() says how far the run is (see ProgressLine): shown on stderr
  // once the run has taken ~2 s, only when stderr is a terminal and not with
  // --quiet. Thread-safe.
  void progress(std::string_view what, std::int64_t done, std::int64_t total,
                std::string_view unit) {
    progress_.update(what, done, total, unit);
  }

 private:
  // human() is `text` as human output: wrapped to width() unless wide.
  std::string human(std::string_view text) const;
  // write() writes `text` to `stream`, the progress line out of its way.
  void write(std::FILE* stream, std::string_view text);

  Format format_;
  std::FILE* extra_;
  Style style_;
  bool wide_;
  int width_;
  bool stdout_terminal_;
  std::mutex mu_;  // of all writes
  ProgressLine progress_;
};

// JsonWriter builds one JSON document. Containers nested `inline_depth`
// deep or deeper are written on one line (an array of records becomes one
// record per line); the rest is indented by two spaces.
class JsonWriter {
 public:
  explicit JsonWriter(int inline_depth = 2) : inline_depth_(inline_depth) {}

  // begin_object()/begin_array() with one_line set write the container on
  // one line whatever its depth (short arrays of numbers).
  JsonWriter& begin_object(bool one_line = false);
  JsonWriter& end_object();
  JsonWriter& begin_array(bool one_line = false);
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);

  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(bool b);
  JsonWriter& value(double d);  // non-finite: null; else at most 3 decimals
  JsonWriter& null();
  template <std::integral T>
  JsonWriter& value(T v) {
    return raw(std::to_string(v));
  }
  // exact() writes a 64-bit value that may exceed 2^53 (a checksum) as a
  // string of decimal digits: JSON readers that hold numbers as doubles
  // (JavaScript, jq 1.6) would round it.
  JsonWriter& exact(std::uint64_t v) { return value(std::to_string(v)); }

  template <class T>
  JsonWriter& field(std::string_view name, const T& v) {
    key(name);
    return value(v);
  }

  // str() is the document so far, with a final newline once complete.
  std::string str() const { return stack_.empty() ? out_ + "\n" : out_; }

 private:
  struct Level {
    bool object;
    bool inline_;
    bool empty = true;
  };
  JsonWriter& raw(std::string_view text);
  JsonWriter& open(char bracket, bool object, bool one_line);
  JsonWriter& close(char bracket);
  void before_value();
  void new_line(std::size_t depth);

  std::string out_;
  std::vector<Level> stack_;
  bool after_key_ = false;
  int inline_depth_;
};

// json_quote() is `s` as a JSON string literal.
std::string json_quote(std::string_view s);

// csv_line() is one CSV record (RFC 4180 quoting) with a final newline.
std::string csv_line(const std::vector<std::string>& fields);

// csv_number() is a CSV cell for a measured value: three decimals, empty when
// not finite.
std::string csv_number(double v);

// CsvRecords is a CSV document of several kinds of record in one table, so
// that any CSV reader takes it whole: the first column, `record`, names each
// row's kind (event, task, row, summary, ...), the other columns are the
// union of the kinds' fields, and a row leaves empty the columns its kind
// does not have.
class CsvRecords {
 public:
  // `columns` are the columns after `record`, in order.
  explicit CsvRecords(std::vector<std::string> columns) : columns_(std::move(columns)) {}

  // add() appends a record of kind `kind`; each cell names its column (a
  // name that is not a column is a programming error: std::logic_error).
  void add(std::string_view kind, const std::vector<std::pair<std::string, std::string>>& cells);

  // str() is the header and the records.
  std::string str() const;

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// TextTable lays out rows in aligned columns. When they do not fit the
// width given, the columns of the highest `priority` go first (the
// rightmost of equals first); priority 0 columns always show.
class TextTable {
 public:
  struct Column {
    std::string header;
    bool right = false;  // right-aligned (numbers)
    int priority = 0;    // 0: always shown; higher: hidden sooner
  };
  explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}
  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  // render() is the header, a rule and the rows, each line starting with
  // `indent` and at most `max_width` columns wide (0: no limit), then, when
  // columns were hidden to fit, a line naming them and --wide.
  std::string render(std::string_view indent, const Style& style, int max_width = 0) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// display_width() is the number of terminal columns `s` takes (UTF-8 code
// points; ANSI colour sequences take none).
std::size_t display_width(std::string_view s);

}  // namespace demo
