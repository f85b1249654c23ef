// help_format.hpp: `--help` that fits an 80-column terminal. CLI11 prints
// each description on one line after a 30-column name; HelpFormatter wraps
// descriptions at word boundaries so that no line is wider than kHelpWidth.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <string>
#include <string_view>

namespace demo {

inline constexpr std::size_t kHelpWidth = 80;

// wrap_text() breaks `text` at spaces into lines of at most `width`
// characters (a longer word stays whole), keeping its own line breaks.
std::string wrap_text(std::string_view text, std::size_t width);

// HelpFormatter is CLI11's formatter with descriptions and footers wrapped
// to fit kHelpWidth. Set it on the top App before the subcommands are added (they
// inherit it).
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_desc(const CLI::Option* opt) const override;
  std::string make_subcommand(const CLI::App* sub) const override;
  std::string make_description(const CLI::App* app) const override;
  // make_footer() wraps a line too wide: prose flows on into the next line
  // of its paragraph (or a new one); an example's "# comment" continues on
  // the next line, under its '#'.
  std::string make_footer(const CLI::App* app) const override;
};

// fit_footer() is `footer` with every line made to fit `width` as
// HelpFormatter::make_footer() does.
std::string fit_footer(std::string_view footer, std::size_t width);

}  // namespace demo
