# openblas.cmake: finds OpenBLAS (FindBLAS, vendor OpenBLAS) and keeps it only
# when it is a threaded build (pthread or OpenMP).
#
# soma calls OpenBLAS's sgemm from several of its own OpenMP threads at once,
# each on a slice of C (src/cpu/cpu_blas.c). A serial build (Debian's
# libopenblas-serial-dev, which defines no blas_thread_init) is not safe for
# that: under load its results came out wrong (test_ops_3_threads, 2 failures
# in 12 runs of two concurrent processes; none in 12 with the pthread build).
# A threaded build starts a thread pool when the library loads; the soma CLI
# keeps it empty (it starts itself again with OPENBLAS_NUM_THREADS=1:
# tools/openblas_env.c), and soma sets its thread count to 1 before each
# call, so it is never used.
#
# In: SOMA_BLAS (AUTO, ON, OFF). Out: _blas_found, BLAS::BLAS,
# BLAS_LIBRARIES, SOMA_CBLAS_INCLUDE_DIR.
set(_blas_found OFF)
if(NOT SOMA_BLAS STREQUAL "OFF")
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS QUIET)
  find_path(SOMA_CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas)
  if(BLAS_FOUND AND SOMA_CBLAS_INCLUDE_DIR)
    include(CheckFunctionExists)
    string(MD5 _openblas_hash "${BLAS_LIBRARIES}")
    set(CMAKE_REQUIRED_LIBRARIES ${BLAS_LIBRARIES})
    set(CMAKE_REQUIRED_QUIET ON)
    check_function_exists(blas_thread_init SOMA_OPENBLAS_THREADED_${_openblas_hash})
    unset(CMAKE_REQUIRED_LIBRARIES)
    unset(CMAKE_REQUIRED_QUIET)
    if(SOMA_OPENBLAS_THREADED_${_openblas_hash})
      set(_blas_found ON)
    else()
      message(STATUS "OpenBLAS ${BLAS_LIBRARIES} is a serial build, which is not safe to call from several "
                     "threads at once as soma does: not used (apt-get install libopenblas-pthread-dev)")
    endif()
  endif()
endif()
