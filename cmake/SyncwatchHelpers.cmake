# Helpers in the spirit of Abseil's absl_cc_library()/absl_cc_test().

set(SYNCWATCH_WARNINGS
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wsign-compare -Wimplicit-fallthrough -Wunused-parameter -Woverloaded-virtual)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  list(APPEND SYNCWATCH_WARNINGS -Wthread-safety -Winconsistent-missing-override)
endif()
if(SYNCWATCH_WERROR)
  list(APPEND SYNCWATCH_WARNINGS -Werror)
endif()

set(SYNCWATCH_SANITIZER_FLAGS "")
if(SYNCWATCH_SANITIZE)
  set(SYNCWATCH_SANITIZER_FLAGS -fsanitize=${SYNCWATCH_SANITIZE} -fno-omit-frame-pointer
      -fno-sanitize-recover=all)
endif()

function(_syncwatch_common_target_settings target)
  target_compile_options(${target} PRIVATE ${SYNCWATCH_WARNINGS} ${SYNCWATCH_SANITIZER_FLAGS})
  target_link_options(${target} PRIVATE ${SYNCWATCH_SANITIZER_FLAGS})
endfunction()

# syncwatch_cc_library(NAME foo SRCS a.cc DEPS x y) -> syncwatch_foo, alias syncwatch::foo
function(syncwatch_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  set(target syncwatch_${ARG_NAME})
  add_library(${target} STATIC ${ARG_SRCS})
  add_library(syncwatch::${ARG_NAME} ALIAS ${target})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${target} PUBLIC ${ARG_DEPS})
  _syncwatch_common_target_settings(${target})
endfunction()

# syncwatch_cc_binary(NAME syncwatch-agent SRCS main.cc DEPS ...)
function(syncwatch_cc_binary)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  _syncwatch_common_target_settings(${ARG_NAME})
endfunction()

# syncwatch_cc_test(NAME foo_test SRCS a_test.cc DEPS ...): one executable per folder.
function(syncwatch_cc_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  _syncwatch_common_target_settings(${ARG_NAME})
  gtest_discover_tests(${ARG_NAME}
    DISCOVERY_MODE PRE_TEST
    PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
endfunction()
