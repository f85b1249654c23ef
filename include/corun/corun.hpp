// corun.hpp: the whole public surface of corun in one include.
#pragma once

#include "corun/blocking.hpp"
#include "corun/channel.hpp"
#include "corun/config.hpp"
#include "corun/errors.hpp"
#include "corun/io.hpp"
#include "corun/mutex.hpp"
#include "corun/net.hpp"
#include "corun/preempt.hpp"
#include "corun/runtime.hpp"
#include "corun/select.hpp"
#include "corun/this_coroutine.hpp"
#include "corun/trace.hpp"
#include "corun/wait_group.hpp"
