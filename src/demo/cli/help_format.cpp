// help_format.cpp: see help_format.hpp.
#include "demo/cli/help_format.hpp"

#include <algorithm>
#include <sstream>
#include <vector>

namespace demo {

std::string wrap_text(std::string_view text, std::size_t width) {
  std::string out;
  std::size_t line = 0;  // length of the current output line
  while (!text.empty()) {
    if (text.front() == '\n') {
      out += '\n';
      line = 0;
      text.remove_prefix(1);
      continue;
    }
    if (text.front() == ' ') {
      text.remove_prefix(1);
      continue;
    }
    const std::size_t end = text.find_first_of(" \n");
    const std::string_view word = text.substr(0, end);
    if (line > 0 && line + 1 + word.size() > width) {
      out += '\n';
      line = 0;
    }
    if (line > 0) {
      out += ' ';
      ++line;
    }
    out += word;
    line += word.size();
    text.remove_prefix(word.size());
  }
  return out;
}

namespace {

// The description column's width next to names `column` wide.
std::size_t desc_width(std::size_t column) {
  return column + 20 < kHelpWidth ? kHelpWidth - column : 20;
}

// split_lines() is `text` cut at its line breaks.
std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (true) {
    const auto nl = text.find('\n');
    lines.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos) return lines;
    text.remove_prefix(nl + 1);
  }
}

bool is_prose(const std::string& line) { return !line.empty() && line.front() != ' '; }

// fit_example() is an indented example line wider than `width` with its
// "# comment" wrapped under the '#'; the line unchanged when that cannot
// help.
std::string fit_example(const std::string& line, std::size_t width) {
  const auto hash = line.find("# ");
  if (hash == std::string::npos || hash + 2 + 16 > width) return line;
  const std::vector<std::string> parts =
      split_lines(wrap_text(line.substr(hash + 2), width - hash - 2));
  std::string out = line.substr(0, hash);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += "\n" + std::string(hash, ' ');
    out += "# " + parts[i];
  }
  return out;
}

}  // namespace

std::string fit_footer(std::string_view footer, std::size_t width) {
  std::vector<std::string> lines = split_lines(footer);
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string line = lines[i];
    if (line.size() > width && is_prose(line)) {
      const std::string wrapped = wrap_text(line, width);
      const auto nl = wrapped.find('\n');
      std::string rest = wrapped.substr(nl + 1);
      std::replace(rest.begin(), rest.end(), '\n', ' ');
      line = wrapped.substr(0, nl);
      // The rest flows into the next line when that goes on with the same
      // paragraph (this one does not end a sentence).
      const char last = lines[i].back();
      if (i + 1 < lines.size() && is_prose(lines[i + 1]) && last != '.' && last != ':') {
        lines[i + 1] = rest + " " + lines[i + 1];
      } else {
        line += "\n" + wrap_text(rest, width);
      }
    } else if (line.size() > width) {
      line = fit_example(line, width);
    }
    out += line;
    if (i + 1 < lines.size()) out += '\n';
  }
  return out;
}

std::string HelpFormatter::make_footer(const CLI::App* app) const {
  const std::string footer = CLI::Formatter::make_footer(app);
  return footer.empty() ? footer : fit_footer(footer, kHelpWidth);
}

std::string HelpFormatter::make_option_desc(const CLI::Option* opt) const {
  return wrap_text(CLI::Formatter::make_option_desc(opt), desc_width(get_column_width()));
}

std::string HelpFormatter::make_subcommand(const CLI::App* sub) const {
  std::stringstream out;
  CLI::detail::format_help(out, sub->get_display_name(true),
                           wrap_text(sub->get_description(), desc_width(get_column_width())),
                           get_column_width());
  return out.str();
}

std::string HelpFormatter::make_description(const CLI::App* app) const {
  return wrap_text(CLI::Formatter::make_description(app), kHelpWidth);
}

}  // namespace demo
