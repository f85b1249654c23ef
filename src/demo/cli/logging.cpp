// logging.cpp: see logging.hpp.
#include "demo/cli/logging.hpp"

#include <spdlog/cfg/env.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

#include "demo/render/output.hpp"

namespace demo {

void setup_logging(const GlobalOptions& global) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(
      color_for(stderr, global) ? spdlog::color_mode::always : spdlog::color_mode::never);
  auto logger = std::make_shared<spdlog::logger>("demo", sink);
  logger->set_pattern("demo: %^%l%$: %v");
  logger->set_level(spdlog::level::info);
  spdlog::set_default_logger(logger);
  spdlog::cfg::load_env_levels();
  if (global.quiet) {
    spdlog::set_level(spdlog::level::warn);
  } else if (global.verbose == 1) {
    spdlog::set_level(spdlog::level::debug);
  } else if (global.verbose >= 2) {
    spdlog::set_level(spdlog::level::trace);
  }
}

}  // namespace demo
