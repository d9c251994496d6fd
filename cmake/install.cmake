# install.cmake: `cmake --install` puts soma in place for other projects:
#   include/soma.h, include/soma/*.h         the public headers
#   lib/libsoma.a, lib/libsoma.so.X.Y.Z       static and shared libraries (SONAME libsoma.so.<SOVERSION>)
#   lib/libsoma-cuda.so                       the CUDA backend, loaded at run time (SOMA_CUDA_MODULE=ON)
#   bin/soma                                  the command-line tool
#   share/man/man1/soma*.1                    its man pages (generated from soma --help)
#   share/bash-completion/completions/soma    its bash completion
#   share/soma/fetch-mnist.sh                 what `soma fetch mnist` runs
#   lib/cmake/soma/                           find_package(soma): soma::soma (static) and
#                                             soma::soma_shared
#   lib/pkgconfig/soma.pc                     pkg-config soma (--static for the static library)
# Included from the top-level CMakeLists.txt once every target is defined.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(SOMA_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/soma)
if(OpenMP_C_FOUND)
  set(SOMA_HAVE_OPENMP ON)
else()
  set(SOMA_HAVE_OPENMP OFF)
endif()

install(TARGETS soma soma_shared EXPORT somaTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS soma_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The CUDA module goes beside libsoma.so, where libsoma looks first; an
# installed CLI (the core linked in statically) finds it through the relative
# path from bin/ to lib/, and a static consumer elsewhere through the
# configured lib directory or SOMA_CUDA_MODULE (src/core/cuda_module.c).
if(SOMA_CUDA_AS_MODULE)
  install(TARGETS soma_cuda LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  file(RELATIVE_PATH _module_relative ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
  set_property(SOURCE src/core/cuda_module.c APPEND PROPERTY COMPILE_DEFINITIONS
    SOMA_CUDA_MODULE_RELATIVE="${_module_relative}" SOMA_CUDA_MODULE_LIBDIR="${CMAKE_INSTALL_FULL_LIBDIR}")
endif()

# The CLI's companions: `soma fetch`'s script (found from bin/soma through
# this relative path, so a prefix can move), the man pages, generated from
# soma's own --help by tools/gen-man.sh at build time, and the bash completion.
file(RELATIVE_PATH _fetch_relative ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_DATADIR}/soma/fetch-mnist.sh)
target_compile_definitions(soma_cli PRIVATE SOMA_FETCH_RELATIVE="${_fetch_relative}")
install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/fetch-mnist.sh DESTINATION ${CMAKE_INSTALL_DATADIR}/soma)
set(SOMA_MAN_DIR ${PROJECT_BINARY_DIR}/man)
add_custom_command(OUTPUT ${SOMA_MAN_DIR}/soma.1
  COMMAND sh ${PROJECT_SOURCE_DIR}/tools/gen-man.sh $<TARGET_FILE:soma_cli> ${SOMA_MAN_DIR}
  DEPENDS soma_cli ${PROJECT_SOURCE_DIR}/tools/gen-man.sh
  COMMENT "Generating the man pages from soma --help")
add_custom_target(soma_man ALL DEPENDS ${SOMA_MAN_DIR}/soma.1)
install(DIRECTORY ${SOMA_MAN_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 FILES_MATCHING PATTERN "*.1")
install(FILES ${PROJECT_SOURCE_DIR}/tools/soma.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
        RENAME soma)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(EXPORT somaTargets NAMESPACE soma:: DESTINATION ${SOMA_CMAKE_DIR})

# The CUDA kernels' host code is C++ (static guards, exception personality):
# a program linking the static library of a CUDA build needs libstdc++ even
# when it is written in C and its project enables C alone.
if(SOMA_HAVE_CUDA AND NOT SOMA_CUDA_AS_MODULE)
  target_link_libraries(soma INTERFACE $<INSTALL_INTERFACE:stdc++>)
endif()
set(SOMA_CUDA_LINKED OFF) # somaConfig.cmake: the static library needs the CUDA libraries
if(SOMA_HAVE_CUDA AND NOT SOMA_CUDA_AS_MODULE)
  set(SOMA_CUDA_LINKED ON)
endif()

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/somaConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/somaConfig.cmake INSTALL_DESTINATION ${SOMA_CMAKE_DIR})
# Before 1.0 a minor release may change the API: only the same minor version is compatible.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_soma_compat SameMinorVersion)
else()
  set(_soma_compat SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/somaConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY ${_soma_compat})
install(FILES ${PROJECT_BINARY_DIR}/somaConfig.cmake ${PROJECT_BINARY_DIR}/somaConfigVersion.cmake
        DESTINATION ${SOMA_CMAKE_DIR})

# pkg-config: prefix is found from the .pc file's own place, so the tree can
# be installed with `cmake --install build --prefix DIR` anywhere. What the
# static library needs goes in Libs.private (pkg-config --static).
set(_pc_private "")
if(MATH_LIBRARY)
  string(APPEND _pc_private " -lm")
endif()
string(APPEND _pc_private " -pthread")
if(OpenMP_C_FOUND)
  string(APPEND _pc_private " ${OpenMP_C_FLAGS}")
endif()
if(SOMA_HAVE_BLAS)
  foreach(_lib IN LISTS BLAS_LIBRARIES)
    string(APPEND _pc_private " ${_lib}")
  endforeach()
endif()
if(SOMA_HAVE_MPI)
  foreach(_lib IN LISTS MPI_C_LIBRARIES)
    string(APPEND _pc_private " ${_lib}")
  endforeach()
endif()
if(SOMA_CUDA_AS_MODULE AND CMAKE_DL_LIBS)
  string(APPEND _pc_private " -l${CMAKE_DL_LIBS}") # the module loader
endif()
if(SOMA_CUDA_LINKED)
  string(APPEND _pc_private " -L${CUDAToolkit_LIBRARY_DIR} -lcudart -lcublas -lcublasLt")
  if(SOMA_HAVE_CUDNN)
    string(APPEND _pc_private " ${CUDNN_LIBRARY}")
  endif()
  string(APPEND _pc_private " -lstdc++")
endif()
string(STRIP "${_pc_private}" SOMA_PC_LIBS_PRIVATE)
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(SOMA_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(SOMA_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH _pc_up "/root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/root")
  string(REGEX REPLACE "/$" "" _pc_up "${_pc_up}")
  set(SOMA_PC_PREFIX "\${pcfiledir}/${_pc_up}")
  set(SOMA_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(SOMA_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(SOMA_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/soma.pc.in ${PROJECT_BINARY_DIR}/soma.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/soma.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
