// corun.hpp: the whole public surface of corun in one include.
#pragma once

#include "corun/config.hpp"
#include "corun/errors.hpp"
#include "corun/mutex.hpp"
#include "corun/runtime.hpp"
#include "corun/this_coroutine.hpp"
#include "corun/wait_group.hpp"
