# check_install.cmake: installs corun from a build directory into a fresh
# prefix, then builds and runs tests/consumer against it twice: as a CMake
# project (find_package(corun CONFIG)) and with pkg-config on the compiler's
# command line. Also checks that only the library was installed.
#
#   cmake -DBUILD_DIR=build/release -DWORK_DIR=build/release/install-check
#         -DCXX=/usr/bin/c++ -DGENERATOR=Ninja [-DPKG_CONFIG=/usr/bin/pkg-config]
#         [-DSTACK_CLASH=ON] -P tests/consumer/check_install.cmake
foreach(_var IN ITEMS BUILD_DIR WORK_DIR CXX GENERATOR)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "check_install.cmake: expected -D${_var}=...")
  endif()
endforeach()
set(_source "${CMAKE_CURRENT_LIST_DIR}")
set(_prefix "${WORK_DIR}/prefix")

# run(WHAT COMMAND...): runs COMMAND; on failure, stops with its output.
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "check_install: ${what} failed (${_rc}):\n${_out}")
  endif()
  message(STATUS "check_install: ${what}: ok")
  set(_last_output "${_out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
run("cmake --install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${_prefix}")

# Only the library: headers, libcorun.a, the CMake package, corun.pc, and
# the gdb helper beside them.
file(GLOB_RECURSE _installed RELATIVE "${_prefix}" "${_prefix}/*")
set(_unexpected "")
foreach(_file IN LISTS _installed)
  if(NOT _file MATCHES "^include/corun/.*\\.hpp$"
     AND NOT _file MATCHES "^lib[^/]*/(.*/)?libcorun\\.a$"
     AND NOT _file MATCHES "^lib[^/]*/(.*/)?cmake/corun/corun[A-Za-z-]*\\.cmake$"
     AND NOT _file MATCHES "^lib[^/]*/(.*/)?pkgconfig/corun\\.pc$"
     AND NOT _file MATCHES "^share/corun/gdb/corun-gdb\\.py$")
    list(APPEND _unexpected "${_file}")
  endif()
endforeach()
if(_unexpected)
  string(REPLACE ";" "\n  " _unexpected "${_unexpected}")
  message(FATAL_ERROR "check_install: installed more than the library:\n  ${_unexpected}")
endif()
foreach(_expected IN ITEMS "include/corun/corun.hpp" "libcorun.a" "corunConfig.cmake"
                           "corunConfigVersion.cmake" "corunTargets.cmake" "corun.pc"
                           "corun-gdb.py")
  if(NOT _installed MATCHES "(^|;|/)${_expected}(;|$)")
    message(FATAL_ERROR "check_install: ${_expected} was not installed (got: ${_installed})")
  endif()
endforeach()

# 1. find_package(corun CONFIG REQUIRED), target_link_libraries(... corun::corun).
set(_fp "${WORK_DIR}/find_package")
run("configure the consumer (find_package)"
    "${CMAKE_COMMAND}" -S "${_source}" -B "${_fp}" -G "${GENERATOR}"
    "-DCMAKE_CXX_COMPILER=${CXX}" -DCMAKE_BUILD_TYPE=Release
    "-DCMAKE_PREFIX_PATH=${_prefix}" "-DCORUN_EXPECT_STACK_CLASH_PROTECTION=${STACK_CLASH}")
run("build the consumer (find_package)" "${CMAKE_COMMAND}" --build "${_fp}")
run("run the consumer (find_package)" "${_fp}/consumer")

# 2. pkg-config --cflags --libs corun, on a plain compiler command line.
if(NOT PKG_CONFIG)
  message(STATUS "check_install: no pkg-config: corun.pc not checked")
  return()
endif()
file(GLOB_RECURSE _pc "${_prefix}/*/corun.pc")
get_filename_component(_pc_dir "${_pc}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${_pc_dir}")
run("pkg-config --cflags corun" "${PKG_CONFIG}" --cflags corun)
string(STRIP "${_last_output}" _cflags)
run("pkg-config --libs corun" "${PKG_CONFIG}" --libs corun)
string(STRIP "${_last_output}" _libs)
message(STATUS "check_install: corun.pc: cflags '${_cflags}', libs '${_libs}'")
if(STACK_CLASH AND NOT _cflags MATCHES "-fstack-clash-protection")
  message(FATAL_ERROR "check_install: corun.pc's cflags lack -fstack-clash-protection: ${_cflags}")
endif()
separate_arguments(_cflags UNIX_COMMAND "${_cflags}")
separate_arguments(_libs UNIX_COMMAND "${_libs}")
file(MAKE_DIRECTORY "${WORK_DIR}/pkg-config")
run("build the consumer (pkg-config)"
    "${CXX}" -std=c++20 -O2 ${_cflags} "${_source}/main.cpp"
    -o "${WORK_DIR}/pkg-config/consumer" ${_libs})
run("run the consumer (pkg-config)" "${WORK_DIR}/pkg-config/consumer")
