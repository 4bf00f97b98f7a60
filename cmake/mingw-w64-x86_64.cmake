# CMake toolchain file: cross-compile for 64-bit Windows with Debian's
# mingw-w64 "posix" compilers (winpthreads, so std::thread and std::mutex
# work), against the dependency prefix scripts/windows/build-deps fills.
# The prefix comes from -DSYNCWATCH_WIN_PREFIX=... or the environment variable
# of the same name (the environment also reaches CMake's try_compile runs).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_AR x86_64-w64-mingw32-gcc-ar-posix CACHE FILEPATH "")
set(CMAKE_RANLIB x86_64-w64-mingw32-gcc-ranlib-posix CACHE FILEPATH "")

if(NOT SYNCWATCH_WIN_PREFIX AND DEFINED ENV{SYNCWATCH_WIN_PREFIX})
  set(SYNCWATCH_WIN_PREFIX "$ENV{SYNCWATCH_WIN_PREFIX}")
endif()
# The prefix first: Debian's mingw sysroot has a zlib of its own (libz-mingw-w64,
# with an import library for zlib1.dll) that must not be picked.
set(CMAKE_FIND_ROOT_PATH ${SYNCWATCH_WIN_PREFIX} /usr/x86_64-w64-mingw32)
list(APPEND CMAKE_PREFIX_PATH ${SYNCWATCH_WIN_PREFIX})
# Programs (protoc, grpc_cpp_plugin, perl) are the build machine's;
# libraries, headers and CMake packages only the target's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Windows 10 / Server 2016 and later: the APIs gRPC needs (>= 0x600,
# grpc/grpc#34152) and everything the agent uses.
set(CMAKE_C_FLAGS_INIT "-D_WIN32_WINNT=0x0A00")
set(CMAKE_CXX_FLAGS_INIT "-D_WIN32_WINNT=0x0A00")
