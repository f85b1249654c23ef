# install.cmake: what `cmake --install` puts under the prefix, the library
# only (never demo, the tests or the benchmarks):
#   include/corun/...                        the public headers
#   lib/libcorun.a                           the library
#   lib/cmake/corun/corunConfig.cmake        find_package(corun CONFIG), with
#     corunConfigVersion.cmake, corunTargets*.cmake   the target corun::corun
#   lib/pkgconfig/corun.pc                   pkg-config --cflags --libs corun
#   share/corun/gdb/corun-gdb.py             the gdb helper (`source` it in gdb)
# The installed target carries what the build's own users get: C++20,
# Threads, libunwind where the build found it, and -fstack-clash-protection
# (see CMakeLists.txt), so a program
# that links corun::corun or uses corun.pc is compiled as safely as the tests.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(CORUN_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/corun"
    CACHE STRING "Where corunConfig.cmake is installed, relative to the prefix")
set(CORUN_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
    CACHE STRING "Where corun.pc is installed, relative to the prefix")

# EXPORT_NAME: installed as corun::corun, the same name as the build's alias.
set_target_properties(corun PROPERTIES EXPORT_NAME corun)
install(TARGETS corun
        EXPORT corunTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/corun"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.hpp")
install(FILES "${PROJECT_SOURCE_DIR}/tools/gdb/corun-gdb.py"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/corun/gdb")
install(EXPORT corunTargets
        NAMESPACE corun::
        DESTINATION "${CORUN_INSTALL_CMAKEDIR}")

configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/corunConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/corunConfig.cmake"
  INSTALL_DESTINATION "${CORUN_INSTALL_CMAKEDIR}")
# 0.x: a new minor version may change the interface.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/corunConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/corunConfig.cmake"
              "${PROJECT_BINARY_DIR}/corunConfigVersion.cmake"
        DESTINATION "${CORUN_INSTALL_CMAKEDIR}")

# corun.pc finds the prefix from its own place (${pcfiledir}), so it stays
# right whatever `cmake --install --prefix` says at install time.
if(IS_ABSOLUTE "${CORUN_INSTALL_PKGCONFIGDIR}")
  set(CORUN_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  set(CORUN_PC_PREFIX "\${pcfiledir}")
  string(REPLACE "/" ";" _corun_pc_parts "${CORUN_INSTALL_PKGCONFIGDIR}")
  foreach(_part IN LISTS _corun_pc_parts)
    if(NOT _part STREQUAL "" AND NOT _part STREQUAL ".")
      string(APPEND CORUN_PC_PREFIX "/..")
    endif()
  endforeach()
endif()
foreach(_dir IN ITEMS LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
    set(CORUN_PC_${_dir} "${CMAKE_INSTALL_${_dir}}")
  else()
    set(CORUN_PC_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()
set(CORUN_PC_CFLAGS "")
if(CORUN_HAVE_STACK_CLASH_PROTECTION)
  set(CORUN_PC_CFLAGS " -fstack-clash-protection")
endif()
# The static library's own dependency: libunwind's generic library, for
# the coroutine dump's backtraces (CMakeLists.txt); the CMake target carries
# it as `unwind-generic`.
set(CORUN_PC_LIBS "")
if(_corun_unwind)
  set(CORUN_PC_LIBS " -lunwind-generic")
endif()
configure_file("${CMAKE_CURRENT_LIST_DIR}/corun.pc.in" "${PROJECT_BINARY_DIR}/corun.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/corun.pc" DESTINATION "${CORUN_INSTALL_PKGCONFIGDIR}")
