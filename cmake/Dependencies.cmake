# Third-party dependencies, found once for the whole tree (DESIGN.md, Dependencies).

# LibTorch from the torch wheel: the project's .venv (scripts/setup.sh), else
# whatever python3 holds torch (the GPU machine's preinstalled torch).
if(EXISTS "${PROJECT_SOURCE_DIR}/.venv/bin/python")
  set(_default_python "${PROJECT_SOURCE_DIR}/.venv/bin/python")
else()
  set(_default_python "python3")
endif()
set(HYBRIDIZE_PYTHON "${_default_python}" CACHE STRING "Python interpreter whose torch provides LibTorch")
execute_process(
  COMMAND "${HYBRIDIZE_PYTHON}" -c "import torch; print(torch.utils.cmake_prefix_path)"
  OUTPUT_VARIABLE _torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE _torch_rc ERROR_QUIET)
if(NOT _torch_rc EQUAL 0)
  message(FATAL_ERROR "hybridize: '${HYBRIDIZE_PYTHON}' cannot import torch; run scripts/setup.sh first")
endif()
list(APPEND CMAKE_PREFIX_PATH "${_torch_prefix}")

# The CUDA wheel's TorchConfig needs nvcc; kernels/ uses it too when present.
include(CheckLanguage)
check_language(CUDA)
if(CMAKE_CUDA_COMPILER)
  set(CMAKE_CUDA_ARCHITECTURES 90a)
  set(TORCH_CUDA_ARCH_LIST "9.0a")
  enable_language(CUDA)
  set(HYBRIDIZE_HAVE_CUDA ON)
else()
  set(HYBRIDIZE_HAVE_CUDA OFF)
  message(STATUS "hybridize: nvcc not found, building the CPU-only path")
endif()
find_package(Torch REQUIRED)
# libtorch.so exports its own copy of std::filesystem, parts of which crash
# (remove_all jumps to null). Putting libstdc++ first among the needed
# libraries makes the dynamic linker bind those symbols to the real one.
add_link_options(LINKER:--push-state,--no-as-needed -lstdc++ LINKER:--pop-state)
# TorchConfig puts its compile flags (the C++ ABI macro) into TORCH_CXX_FLAGS.
string(APPEND CMAKE_CXX_FLAGS " ${TORCH_CXX_FLAGS}")

# NCCL process groups (src/dist) exist only in a CUDA LibTorch: its torch_cuda
# target says so with USE_C10D_NCCL, and c10d's NCCL header needs nccl.h (the
# wheel's nvidia-nccl package or the CUDA toolkit). Without both, multi-process
# jobs run on the CPU through gloo only.
set(HYBRIDIZE_HAVE_NCCL OFF)
if(TARGET torch_cuda)
  get_target_property(_torch_cuda_definitions torch_cuda INTERFACE_COMPILE_DEFINITIONS)
  if("USE_C10D_NCCL" IN_LIST _torch_cuda_definitions)
    find_path(HYBRIDIZE_NCCL_INCLUDE nccl.h
              HINTS "${_torch_prefix}/../../../nvidia/nccl/include" "${HYBRIDIZE_EXTRA_INCLUDE}" ${CUDAToolkit_INCLUDE_DIRS})
    if(HYBRIDIZE_NCCL_INCLUDE)
      set(HYBRIDIZE_HAVE_NCCL ON)
    endif()
  endif()
endif()
message(STATUS "hybridize: NCCL process groups ${HYBRIDIZE_HAVE_NCCL}")

find_package(nlohmann_json 3.10 QUIET)
if(NOT nlohmann_json_FOUND)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  find_path(_nlohmann_dir nlohmann/json.hpp HINTS "${HYBRIDIZE_EXTRA_INCLUDE}" PATH_SUFFIXES json REQUIRED)
  target_include_directories(nlohmann_json::nlohmann_json INTERFACE "${_nlohmann_dir}")
endif()

find_package(CLI11 QUIET)
if(NOT TARGET CLI11::CLI11)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  find_path(_cli11_dir CLI/CLI.hpp HINTS "${HYBRIDIZE_EXTRA_INCLUDE}" PATH_SUFFIXES cli REQUIRED)
  target_include_directories(CLI11::CLI11 INTERFACE "${_cli11_dir}")
endif()

# Unicode for the tokenizer (src/data): PCRE2's 8-bit library for the
# pre-tokenizer regexes, required; ICU for NFC normalization, optional (the GPU
# machine's ICU has no headers, and carried headers would not match its
# version-suffixed symbols). That machine has libpcre2-8.so.0 but no pcre2.h nor
# the libpcre2-8.so link: scripts/gpu-deps.sh carries the header, and the runtime
# library is linked by its full name.
find_path(HYBRIDIZE_PCRE2_INCLUDE pcre2.h HINTS "${HYBRIDIZE_EXTRA_INCLUDE}" PATH_SUFFIXES pcre2)
find_library(HYBRIDIZE_PCRE2_LIBRARY NAMES pcre2-8 libpcre2-8.so.0)
if(NOT HYBRIDIZE_PCRE2_INCLUDE OR NOT HYBRIDIZE_PCRE2_LIBRARY)
  message(FATAL_ERROR "hybridize: PCRE2 not found (pcre2.h: ${HYBRIDIZE_PCRE2_INCLUDE}, library: "
                      "${HYBRIDIZE_PCRE2_LIBRARY}); install libpcre2-dev (scripts/setup.sh)")
endif()
add_library(hybridize_unicode INTERFACE)
target_include_directories(hybridize_unicode INTERFACE "${HYBRIDIZE_PCRE2_INCLUDE}")
target_link_libraries(hybridize_unicode INTERFACE "${HYBRIDIZE_PCRE2_LIBRARY}")
find_package(ICU COMPONENTS uc QUIET)
if(ICU_FOUND)
  target_link_libraries(hybridize_unicode INTERFACE ICU::uc)
  target_compile_definitions(hybridize_unicode INTERFACE HYBRIDIZE_HAVE_ICU)
else()
  message(STATUS "hybridize: ICU not found, tokenizers with an NFC normalizer will be refused")
endif()

# SQLite for the results store: the GPU machine has libsqlite3.so.0 but no
# sqlite3.h (carried by scripts/gpu-deps.sh) nor the unversioned link. Each
# carried header has a folder of its own under HYBRIDIZE_EXTRA_INCLUDE, so that
# adding one include folder never shadows another library's system headers. xxHash
# is used header-only (core/hashing.cpp), so only its header is needed there.
find_path(HYBRIDIZE_SQLITE_INCLUDE sqlite3.h HINTS "${HYBRIDIZE_EXTRA_INCLUDE}" PATH_SUFFIXES sqlite)
find_library(HYBRIDIZE_SQLITE_LIBRARY NAMES sqlite3 libsqlite3.so.0)
find_path(HYBRIDIZE_XXHASH_INCLUDE xxhash.h HINTS "${HYBRIDIZE_EXTRA_INCLUDE}" PATH_SUFFIXES xxhash)
# toml++ (header-only) for `hybridize run` configs.
find_path(HYBRIDIZE_TOML_INCLUDE toml++/toml.h HINTS "${HYBRIDIZE_EXTRA_INCLUDE}" PATH_SUFFIXES toml)
if(NOT HYBRIDIZE_TOML_INCLUDE)
  message(FATAL_ERROR "hybridize: toml++ not found; install libtomlplusplus-dev (scripts/setup.sh)")
endif()
add_library(hybridize_toml INTERFACE)
target_include_directories(hybridize_toml INTERFACE "${HYBRIDIZE_TOML_INCLUDE}")
if(NOT HYBRIDIZE_SQLITE_INCLUDE OR NOT HYBRIDIZE_SQLITE_LIBRARY OR NOT HYBRIDIZE_XXHASH_INCLUDE)
  message(FATAL_ERROR "hybridize: SQLite or xxHash not found (sqlite3.h: ${HYBRIDIZE_SQLITE_INCLUDE}, library: "
                      "${HYBRIDIZE_SQLITE_LIBRARY}, xxhash.h: ${HYBRIDIZE_XXHASH_INCLUDE}); run scripts/setup.sh")
endif()
add_library(hybridize_sqlite INTERFACE)
target_include_directories(hybridize_sqlite INTERFACE "${HYBRIDIZE_SQLITE_INCLUDE}")
target_link_libraries(hybridize_sqlite INTERFACE "${HYBRIDIZE_SQLITE_LIBRARY}")

# Catch2: Debian ships v2 (one header), the GPU machine v3 (a library with its
# own main). tests/catch.h hides the difference.
if(HYBRIDIZE_TESTS)
  find_package(Catch2 REQUIRED)
  if(Catch2_VERSION VERSION_GREATER_EQUAL 3)
    set(HYBRIDIZE_CATCH2_TARGET Catch2::Catch2WithMain)
  else()
    set(HYBRIDIZE_CATCH2_TARGET Catch2::Catch2)
  endif()
endif()
