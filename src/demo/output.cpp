// output.cpp: see output.hpp.
#include "demo/output.hpp"

#include <fmt/core.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "demo/stdout_status.hpp"

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
  if (std::getenv("NO_COLOR") != nullptr) return false;
  return isatty(fileno(stream)) != 0;
}

int terminal_columns() {
  winsize ws{};
  if (isatty(STDOUT_FILENO) != 0 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return ws.ws_col;
  }
  return 80;
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

Console::Console(Format format, const GlobalOptions& global)
    : format_(format),
      extra_(format == Format::kTable ? stdout : (global.quiet ? nullptr : stderr)),
      style_(extra_ != nullptr && color_for(extra_, global)) {}

void Console::result(std::string_view text) {
  std::lock_guard<std::mutex> lk(mu_);
  write_stream(stdout, text);
}

void Console::extra(std::string_view text) {
  if (extra_ == nullptr) return;
  std::lock_guard<std::mutex> lk(mu_);
  write_stream(extra_, text);
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

std::string TextTable::render(std::string_view indent, const Style& style) const {
  std::vector<std::size_t> widths(columns_.size());
  for (std::size_t c = 0; c < columns_.size(); ++c) widths[c] = display_width(columns_[c].header);
  for (const auto& row : rows_) {
    for (std::size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], display_width(row[c]));
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out(indent);
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      const std::string pad(widths[c] - display_width(cell), ' ');
      if (c != 0) out += "  ";
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
  std::size_t total = 0;
  for (std::size_t w : widths) total += w;
  total += 2 * (widths.empty() ? 0 : widths.size() - 1);
  out += std::string(indent) + style.dim(std::string(total, '-')) + "\n";
  for (const auto& row : rows_) out += line(row);
  return out;
}

}  // namespace demo
