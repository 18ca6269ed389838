# heapmark attach on real processes (a C fixture with threads and arenas).
if(NOT HEAPMARK_CORE_ONLY)
  add_executable(hmtest_attach_target ${CMAKE_CURRENT_LIST_DIR}/attach_target.c)
  target_link_libraries(hmtest_attach_target PRIVATE Threads::Threads)
  add_executable(attach_tests ${CMAKE_CURRENT_LIST_DIR}/attach_test.cc)
  target_link_libraries(attach_tests PRIVATE Boost::json GTest::gtest_main)
  target_include_directories(attach_tests PRIVATE ${PROJECT_SOURCE_DIR})
  pkg_get_variable(HEAPMARK_ATTACH_JEMALLOC_LIBDIR jemalloc libdir)
  target_compile_definitions(attach_tests PRIVATE HEAPMARK_BIN="$<TARGET_FILE:heapmark>"
                             ATTACH_TARGET="$<TARGET_FILE:hmtest_attach_target>"
                             JEMALLOC_LIB="${HEAPMARK_ATTACH_JEMALLOC_LIBDIR}/libjemalloc.so.2")
  add_dependencies(attach_tests heapmark hmtest_attach_target)
  gtest_discover_tests(attach_tests DISCOVERY_TIMEOUT 30 PROPERTIES LABELS integration)
endif()
