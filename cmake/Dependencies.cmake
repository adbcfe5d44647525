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

find_package(nlohmann_json 3.10 QUIET)
if(NOT nlohmann_json_FOUND)
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  find_path(_nlohmann_dir nlohmann/json.hpp HINTS "${HYBRIDIZE_EXTRA_INCLUDE}" REQUIRED)
  target_include_directories(nlohmann_json::nlohmann_json INTERFACE "${_nlohmann_dir}")
endif()

find_package(CLI11 QUIET)
if(NOT TARGET CLI11::CLI11)
  add_library(CLI11::CLI11 INTERFACE IMPORTED)
  find_path(_cli11_dir CLI/CLI.hpp HINTS "${HYBRIDIZE_EXTRA_INCLUDE}" REQUIRED)
  target_include_directories(CLI11::CLI11 INTERFACE "${_cli11_dir}")
endif()

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
