// usage.cpp: see usage.hpp.
#include "demo/cli/usage.hpp"

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <vector>

#include "demo/render/text.hpp"

namespace demo {

namespace {

// edit_distance() is the Levenshtein distance of `a` and `b`.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// option_name() is the option part of an argument: "--procs=1" -> "--procs".
std::string option_name(std::string_view arg) {
  return std::string(arg.substr(0, arg.starts_with("--") ? arg.find('=') : 2));
}

// spellings() are an App's option names as typed: "--procs", "-p".
std::vector<std::string> spellings(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* opt : app.get_options()) {
    for (const std::string& l : opt->get_lnames()) names.push_back("--" + l);
    for (const std::string& s : opt->get_snames()) names.push_back("-" + s);
  }
  return names;
}

bool has_option(const CLI::App& app, const std::string& name) {
  const std::vector<std::string> names = spellings(app);
  return std::find(names.begin(), names.end(), name) != names.end();
}

// misplaced() is the message for `arg`, an option of a subcommand typed
// before it, `value` the argument after it (or ""); "" if `arg` is no
// subcommand's option.
std::string misplaced(const CLI::App& app, const CLI::App* chosen, const std::string& arg,
                      const std::string& value) {
  const std::string name = option_name(arg);
  const CLI::App* owner = nullptr;
  if (chosen != nullptr) {
    if (has_option(*chosen, name)) owner = chosen;
  } else {
    for (const CLI::App* sub : app.get_subcommands({})) {
      if (has_option(*sub, name)) {
        owner = sub;
        break;
      }
    }
  }
  if (owner == nullptr) return "";
  const std::string example =
      fmt::format("demo {} {}{}", chosen != nullptr ? chosen->get_name() : "SUBCOMMAND", arg,
                  value.empty() || arg.find('=') != std::string::npos ? "" : " " + value);
  return fmt::format("{} is an option of {}: it goes after the subcommand ({})", name,
                     chosen != nullptr ? "demo " + chosen->get_name() : "the subcommands", example);
}

// unknown_option() is the message for `arg`, an option nobody knows.
std::string unknown_option(const CLI::App& app, const CLI::App* chosen, const std::string& arg) {
  const std::string where = chosen == nullptr ? "demo" : "demo " + chosen->get_name();
  std::string guess = chosen == nullptr ? "" : closest_option(*chosen, option_name(arg));
  if (guess.empty()) guess = closest_option(app, option_name(arg));
  if (!guess.empty()) {
    return fmt::format("unknown option \"{}\": did you mean {}? (see {} --help)", option_name(arg),
                       guess, where);
  }
  return fmt::format("unknown option \"{}\" (see {} --help)", option_name(arg), where);
}

// extras_message() is the message for arguments nobody took, `rest` (in
// command-line order); the first option among them is what went wrong (a
// value after it is its value, not a stray argument).
std::string extras_message(const CLI::App& app, const CLI::App* chosen,
                           const std::vector<std::string>& rest) {
  for (std::size_t i = 0; i < rest.size(); ++i) {
    const std::string& arg = rest[i];
    if (arg.size() < 2 || arg.front() != '-') continue;
    const std::string value =
        i + 1 < rest.size() && !rest[i + 1].starts_with('-') ? rest[i + 1] : "";
    const std::string where = misplaced(app, chosen, arg, value);
    return where.empty() ? unknown_option(app, chosen, arg) : where;
  }
  const std::string& arg = rest.front();
  if (chosen == nullptr) {
    return fmt::format("unknown subcommand \"{}\": expected one of {}", arg, subcommand_names(app));
  }
  return fmt::format("unexpected argument \"{}\" (see demo {} --help)", arg, chosen->get_name());
}

}  // namespace

std::string subcommand_names(const CLI::App& app) {
  std::string names;
  for (const CLI::App* sub : app.get_subcommands({})) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
  }
  return names;
}

std::string closest_option(const CLI::App& app, std::string_view typed) {
  if (!typed.starts_with("--") || typed.size() < 3) return "";
  std::string best;
  std::size_t best_distance = 0;
  for (const std::string& name : spellings(app)) {
    if (!name.starts_with("--")) continue;
    // A prefix ("--vers" of "--version") or a slip of a letter or two.
    const std::size_t d = name.starts_with(typed) ? 1 : edit_distance(typed, name);
    const std::size_t limit = std::max<std::size_t>(1, std::min<std::size_t>(2, name.size() / 4));
    if (d <= limit && (best.empty() || d < best_distance)) {
      best = name;
      best_distance = d;
    }
  }
  return best;
}

std::string usage_message(const CLI::App& app, const CLI::ParseError& e) {
  const std::vector<CLI::App*> chosen_list = app.get_subcommands();
  const CLI::App* chosen = chosen_list.empty() ? nullptr : chosen_list.front();
  const std::vector<std::string> rest = app.remaining();
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr && !rest.empty()) {
    return extras_message(app, chosen, rest);
  }
  if (chosen == nullptr && dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
    if (!rest.empty()) return extras_message(app, chosen, rest);
    return fmt::format("a subcommand is required: one of {} (see demo --help)",
                       subcommand_names(app));
  }
  const std::string what = one_line(e.what());
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr) {
    // CLI11 says "--procs: 1 required N missing".
    const auto colon = what.find(':');
    if (colon != std::string::npos && what.find("missing") != std::string::npos) {
      return fmt::format("{}: expected a value (see --help)", what.substr(0, colon));
    }
  }
  return what;
}

}  // namespace demo
