# openblas.cmake: finds an OpenBLAS that has no thread pool of its own.
#
# soma calls OpenBLAS's sgemm single-threaded from its own OpenMP threads
# (src/cpu/cpu_blas.c). A threaded OpenBLAS (Debian's default pthread build,
# or the openmp one) starts its pool while the library loads, before main:
# the two pools then fight over the cores, and under an address-space limit
# (ulimit -v 800000) a pool thread loops on a failed allocation and even
# `soma --version` hangs. So soma links only a serial OpenBLAS: Debian's
# libopenblas-serial-dev (/usr/lib/<arch>/openblas-serial, found first), or
# any libopenblas that does not define blas_thread_init (Fedora's and Arch's
# serial builds). A threaded one is reported and left out (SOMA_BLAS=ON then
# fails). Its directory goes into the RPATH of libsoma.so and the CLI, since
# Debian's flavours share one SONAME and the system default may be threaded.
#
# In: SOMA_BLAS (AUTO, ON, OFF). Out: _blas_found, SOMA_OPENBLAS_LIBRARY,
# SOMA_CBLAS_INCLUDE_DIR, BLAS_LIBRARIES (for pkg-config).
set(_blas_found OFF)
if(NOT SOMA_BLAS STREQUAL "OFF")
  set(_serial_lib_dirs "")
  set(_serial_include_dirs "")
  if(CMAKE_LIBRARY_ARCHITECTURE)
    list(APPEND _serial_lib_dirs /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-serial)
    list(APPEND _serial_include_dirs /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-serial)
  endif()
  find_library(SOMA_OPENBLAS_LIBRARY NAMES openblas PATHS ${_serial_lib_dirs} NO_DEFAULT_PATH)
  if(NOT SOMA_OPENBLAS_LIBRARY)
    find_library(SOMA_OPENBLAS_LIBRARY NAMES openblas)
  endif()
  find_path(SOMA_CBLAS_INCLUDE_DIR cblas.h PATHS ${_serial_include_dirs} NO_DEFAULT_PATH)
  if(NOT SOMA_CBLAS_INCLUDE_DIR)
    find_path(SOMA_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas)
  endif()
  if(SOMA_OPENBLAS_LIBRARY AND SOMA_CBLAS_INCLUDE_DIR)
    include(CheckFunctionExists)
    string(MD5 _openblas_hash "${SOMA_OPENBLAS_LIBRARY}")
    set(CMAKE_REQUIRED_LIBRARIES ${SOMA_OPENBLAS_LIBRARY})
    set(CMAKE_REQUIRED_QUIET ON)
    check_function_exists(blas_thread_init SOMA_OPENBLAS_THREADED_${_openblas_hash})
    unset(CMAKE_REQUIRED_LIBRARIES)
    unset(CMAKE_REQUIRED_QUIET)
    if(SOMA_OPENBLAS_THREADED_${_openblas_hash})
      message(STATUS "OpenBLAS ${SOMA_OPENBLAS_LIBRARY} is a threaded build: it would start a thread pool of "
                     "its own when loaded, so it is not used (install the serial one: apt-get install "
                     "libopenblas-serial-dev)")
    else()
      set(_blas_found ON)
      set(BLAS_LIBRARIES ${SOMA_OPENBLAS_LIBRARY})
    endif()
  endif()
endif()
