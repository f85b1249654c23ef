// output.cpp: see output.hpp.
#include "demo/render/output.hpp"

#include <fmt/core.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "demo/cli/stdout_status.hpp"

namespace demo {

std::string Style::paint(std::string_view code, std::string_view text) const {
  if (!color_) return std::string(text);
  return fmt::format("\x1b[{}m{}\x1b[0m", code, text);
}

std::string Style::task(std::string_view text, std::size_t index) const {
  // Bright colours that read on dark and light backgrounds; no red (errors).
  static constexpr const char* kCodes[] = {"36", "33", "35", "32", "34", "96"};
  return paint(kCodes[index % std::size(kCodes)], text);
}

bool color_for(std::FILE* stream, const GlobalOptions& global) {
  if (global.no_color) return false;
  const char* no_color = std::getenv("NO_COLOR");  // no-color.org: set and not empty
  if (no_color != nullptr && *no_color != '\0') return false;
  const char* term = std::getenv("TERM");
  if (term != nullptr && std::strcmp(term, "dumb") == 0) return false;
  return isatty(fileno(stream)) != 0;
}

int terminal_columns(std::FILE* stream) {
  const int fd = fileno(stream);
  if (isatty(fd) == 0) return kDefaultColumns;
  if (const char* env = std::getenv("COLUMNS"); env != nullptr) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n > 0 && n <= 10000) return static_cast<int>(n);
  }
  winsize ws{};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return kDefaultColumns;
}

namespace {

// wrap_line() is wrap() of one line, without its newline. The spaces
// between the words of a line are kept as they are, except where it breaks.
std::string wrap_line(std::string_view line, std::size_t width) {
  if (display_width(line) <= width) return std::string(line);
  const std::size_t indent = line.find_first_not_of(' ');
  if (indent == std::string_view::npos) return std::string(line);
  const std::string next_indent(indent + 2, ' ');
  std::string out(line.substr(0, indent));
  std::size_t used = indent;
  std::size_t pos = indent;
  while (pos < line.size()) {
    const std::size_t end = std::min(line.find(' ', pos), line.size());
    const std::string_view word = line.substr(pos, end - pos);
    const std::size_t next = std::min(line.find_first_not_of(' ', end), line.size());
    const std::size_t w = display_width(word);
    if (used + w > width && used > next_indent.size() && pos > indent) {
      while (!out.empty() && out.back() == ' ') out.pop_back();
      out += '\n';
      out += next_indent;
      used = next_indent.size();
    }
    out += word;
    used += w;
    if (next < line.size()) {  // the spaces up to the next word
      out.append(next - end, ' ');
      used += next - end;
    }
    pos = next;
  }
  return out;
}

}  // namespace

std::string wrap(std::string_view text, int width) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    out += wrap_line(text.substr(start, end - start), static_cast<std::size_t>(std::max(1, width)));
    if (nl == std::string_view::npos) break;
    out += '\n';
    start = nl + 1;
  }
  return out;
}

bool unicode_ok() {
  for (const char* name : {"LC_ALL", "LC_CTYPE", "LANG"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') {
      return std::strstr(v, "UTF-8") != nullptr || std::strstr(v, "utf8") != nullptr ||
             std::strstr(v, "UTF8") != nullptr || std::strstr(v, "utf-8") != nullptr;
    }
  }
  return false;
}

Console::Console(Format format, const GlobalOptions& global, bool wide)
    : format_(format),
      extra_(format == Format::kTable ? stdout : (global.quiet ? nullptr : stderr)),
      style_(extra_ != nullptr && color_for(extra_, global)),
      wide_(wide),
      width_(terminal_columns(extra_ != nullptr ? extra_ : stdout)),
      stdout_terminal_(isatty(STDOUT_FILENO) != 0),
      progress_(!global.quiet && isatty(STDERR_FILENO) != 0, terminal_columns(stderr), mu_) {}

std::string Console::human(std::string_view text) const {
  return wide_ ? std::string(text) : wrap(text, width_);
}

void Console::write(std::FILE* stream, std::string_view text) {
  std::lock_guard<std::mutex> lk(mu_);
  if (stream == stderr || stdout_terminal_) progress_.hide_locked();
  write_stream(stream, text);
}

void Console::result(std::string_view text) {
  write(stdout, format_ == Format::kTable ? human(text) : std::string(text));
}

void Console::extra(std::string_view text) {
  if (extra_ != nullptr) write(extra_, human(text));
}

void Console::report(std::string_view human, const std::function<std::string()>& machine) {
  progress_.stop();
  if (format_ == Format::kTable) {
    result(human);
    return;
  }
  result(machine());
  extra(human);
}

// ---------------------------------------------------------------------------
// JsonWriter

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

void JsonWriter::new_line(std::size_t depth) {
  out_ += '\n';
  out_.append(2 * depth, ' ');
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (stack_.empty()) return;
  Level& top = stack_.back();
  if (!top.empty) out_ += top.inline_ ? ", " : ",";
  if (!top.inline_) new_line(stack_.size());
  top.empty = false;
}

JsonWriter& JsonWriter::key(std::string_view name) {
  before_value();
  out_ += json_quote(name);
  out_ += ": ";
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view text) {
  before_value();
  out_ += text;
  return *this;
}

JsonWriter& JsonWriter::open(char bracket, bool object, bool one_line) {
  before_value();
  out_ += bracket;
  const bool parent_inline = !stack_.empty() && stack_.back().inline_;
  stack_.push_back(
      {object, one_line || parent_inline || static_cast<int>(stack_.size()) >= inline_depth_});
  return *this;
}

JsonWriter& JsonWriter::close(char bracket) {
  const Level top = stack_.back();
  stack_.pop_back();
  if (!top.inline_ && !top.empty) new_line(stack_.size());
  out_ += bracket;
  return *this;
}

JsonWriter& JsonWriter::begin_object(bool one_line) { return open('{', true, one_line); }
JsonWriter& JsonWriter::end_object() { return close('}'); }
JsonWriter& JsonWriter::begin_array(bool one_line) { return open('[', false, one_line); }
JsonWriter& JsonWriter::end_array() { return close(']'); }
JsonWriter& JsonWriter::value(std::string_view s) { return raw(json_quote(s)); }
JsonWriter& JsonWriter::value(bool b) { return raw(b ? "true" : "false"); }
JsonWriter& JsonWriter::null() { return raw("null"); }

JsonWriter& JsonWriter::value(double d) {
  if (!std::isfinite(d)) return null();
  std::string text = fmt::format("{:.3f}", d);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  if (text == "-0") text = "0";
  return raw(text);
}

// ---------------------------------------------------------------------------
// CSV and text tables

std::string csv_line(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i != 0) out += ',';
    const std::string& f = fields[i];
    if (f.find_first_of(",\"\n\r") == std::string::npos) {
      out += f;
      continue;
    }
    out += '"';
    for (char c : f) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  out += '\n';
  return out;
}

std::string csv_number(double v) { return std::isfinite(v) ? fmt::format("{:.3f}", v) : ""; }

void CsvRecords::add(std::string_view kind,
                     const std::vector<std::pair<std::string, std::string>>& cells) {
  std::vector<std::string> row(columns_.size() + 1);
  row[0] = kind;
  for (const auto& [name, text] : cells) {
    const auto it = std::find(columns_.begin(), columns_.end(), name);
    if (it == columns_.end()) throw std::logic_error("CsvRecords: no column " + name);
    row[static_cast<std::size_t>(it - columns_.begin()) + 1] = text;
  }
  rows_.push_back(std::move(row));
}

std::string CsvRecords::str() const {
  std::vector<std::string> header{"record"};
  header.insert(header.end(), columns_.begin(), columns_.end());
  std::string out = csv_line(header);
  for (const auto& row : rows_) out += csv_line(row);
  return out;
}

std::size_t display_width(std::string_view s) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b') {  // skip an ANSI sequence: ESC [ ... letter
      while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i])) == 0) ++i;
      continue;
    }
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++width;
  }
  return width;
}

std::string TextTable::render(std::string_view indent, const Style& style, int max_width) const {
  std::vector<std::size_t> widths(columns_.size());
  for (std::size_t c = 0; c < columns_.size(); ++c) widths[c] = display_width(columns_[c].header);
  for (const auto& row : rows_) {
    for (std::size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], display_width(row[c]));
    }
  }
  // Hide columns, highest priority (then rightmost) first, until the rest fit.
  std::vector<bool> shown(columns_.size(), true);
  auto total = [&] {
    std::size_t sum = indent.size();
    std::size_t count = 0;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      if (shown[c]) sum += widths[c] + (count++ == 0 ? 0 : 2);
    }
    return sum;
  };
  std::vector<std::string> hidden;
  while (max_width > 0 && total() > static_cast<std::size_t>(max_width)) {
    std::optional<std::size_t> drop;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      if (shown[c] && columns_[c].priority > 0 &&
          (!drop || columns_[c].priority >= columns_[*drop].priority)) {
        drop = c;
      }
    }
    if (!drop) break;
    shown[*drop] = false;
  }
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    if (!shown[c]) hidden.push_back(columns_[c].header);
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out(indent);
    bool first = true;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      if (!shown[c]) continue;
      const std::string cell = c < cells.size() ? cells[c] : "";
      const std::string pad(widths[c] - display_width(cell), ' ');
      if (!first) out += "  ";
      first = false;
      out += columns_[c].right ? pad + cell : cell + pad;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::vector<std::string> headers;
  for (const auto& col : columns_) headers.push_back(col.header);
  std::string head = line(headers);
  head.pop_back();
  std::string out = style.bold(head) + "\n";
  out += std::string(indent) + style.dim(std::string(total() - indent.size(), '-')) + "\n";
  for (const auto& row : rows_) out += line(row);
  if (!hidden.empty()) {
    std::string names;
    for (const std::string& h : hidden) names += (names.empty() ? "" : ", ") + h;
    out += std::string(indent) +
           style.dim(fmt::format("(to fit {} columns, not shown: {}; --wide shows them)", max_width,
                                 names)) +
           "\n";
  }
  return out;
}

}  // namespace demo
