// output.hpp: where the demo's output goes and the writers it is made with:
// Console (results on stdout, live progress on stdout or stderr), Style
// (colour only on a terminal), JsonWriter, TextTable and csv_line().
#pragma once

#include <concepts>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "demo/command.hpp"
#include "demo/options.hpp"

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

// terminal_columns() is the width of the terminal on stdout, or 80.
int terminal_columns();

// unicode_ok() is whether the locale is UTF-8 (for the bar chart's blocks).
bool unicode_ok();

// Console is where one subcommand's output goes. Results (table, JSON or
// CSV) always go to stdout. Human extras (live progress lines, the timeline,
// the summary) go to stdout in table mode; in json/csv mode to stderr, or
// nowhere with --quiet, so that stdout always parses.
class Console {
 public:
  Console(Format format, const GlobalOptions& global);

  Format format() const noexcept { return format_; }
  const Style& style() const noexcept { return style_; }

  // result() writes to stdout.
  void result(std::string_view text);

  // extra() writes human-readable text (progress, timeline, summary) where
  // this format puts it; thread-safe, flushed at once.
  void extra(std::string_view text);

 private:
  Format format_;
  std::FILE* extra_;
  Style style_;
  std::mutex mu_;
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

// TextTable lays out rows in aligned columns.
class TextTable {
 public:
  struct Column {
    std::string header;
    bool right = false;  // right-aligned (numbers)
  };
  explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}
  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  // render() is the header, a rule and the rows, each line starting with
  // `indent`.
  std::string render(std::string_view indent, const Style& style) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// display_width() is the number of terminal columns `s` takes (UTF-8 code
// points; ANSI colour sequences take none).
std::size_t display_width(std::string_view s);

}  // namespace demo
