// Placeholder demo CLI (to be replaced by the real demo).
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <spdlog/spdlog.h>

int main(int argc, char** argv) {
  CLI::App app{"corun demo"};
  app.set_version_flag("--version", std::string{"demo "} + CORUN_VERSION);
  CLI11_PARSE(app, argc, argv);
  fmt::print("demo {}\n", CORUN_VERSION);
  return 0;
}
