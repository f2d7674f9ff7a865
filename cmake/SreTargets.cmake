# One helper for every library and test, so warnings, include paths and labels stay uniform.

# sre_library(NAME SOURCES ... [DEPS ...]): a static library `sre_NAME` with alias `sre::NAME`.
function(sre_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(sre_${name} STATIC ${ARG_SOURCES})
  add_library(sre::${name} ALIAS sre_${name})
  target_include_directories(sre_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(sre_${name} PUBLIC ${ARG_DEPS})
  sre_warnings(sre_${name})
endfunction()

# sre_test(NAME SOURCES ... [DEPS ...] [LABEL unit]): a GoogleTest binary registered with ctest.
function(sre_test name)
  cmake_parse_arguments(ARG "" "LABEL" "SOURCES;DEPS" ${ARGN})
  if(NOT ARG_LABEL)
    set(ARG_LABEL unit)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gmock GTest::gtest_main)
  sre_warnings(${name})
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS ${ARG_LABEL} TIMEOUT 300
    ENVIRONMENT "SRE_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

function(sre_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
endfunction()
