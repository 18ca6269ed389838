# heapmark attach on real processes: a C fixture with threads and arenas (also
# as a static binary, and hammering malloc), under glibc, jemalloc, tcmalloc,
# mimalloc and the in-house ptmalloc-style allocator; python3 and redis-server.
if(NOT HEAPMARK_CORE_ONLY)
  add_executable(hmtest_attach_target ${CMAKE_CURRENT_LIST_DIR}/attach_target.c)
  target_link_libraries(hmtest_attach_target PRIVATE Threads::Threads)
  add_executable(hmtest_attach_target_static ${CMAKE_CURRENT_LIST_DIR}/attach_target.c)
  target_link_libraries(hmtest_attach_target_static PRIVATE Threads::Threads)
  target_link_options(hmtest_attach_target_static PRIVATE -static)
  pkg_get_variable(HEAPMARK_ATTACH_JEMALLOC_LIBDIR jemalloc libdir)
  # attach --openmetrics is read by Prometheus' own parsers (Debian prometheus: promtool).
  find_program(HEAPMARK_ATTACH_PROMTOOL promtool)
  foreach(t attach_tests inside_tests)
    string(REPLACE "_tests" "_test.cc" src ${t})
    add_executable(${t} ${CMAKE_CURRENT_LIST_DIR}/${src})
    target_link_libraries(${t} PRIVATE Boost::json GTest::gtest_main)
    target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR})
    target_compile_definitions(${t} PRIVATE HEAPMARK_BIN="$<TARGET_FILE:heapmark>"
                               ATTACH_TARGET="$<TARGET_FILE:hmtest_attach_target>"
                               ATTACH_TARGET_STATIC="$<TARGET_FILE:hmtest_attach_target_static>"
                               SYSTEM_LIBDIR="${HEAPMARK_ATTACH_JEMALLOC_LIBDIR}"
                               JEMALLOC_LIB="${HEAPMARK_ATTACH_JEMALLOC_LIBDIR}/libjemalloc.so.2"
                               PTMALLOC_LIB="$<TARGET_FILE:heapmark_ptmalloc>" FORWARD_LIB="$<TARGET_FILE:hmtest_forward>"
                               PROMTOOL="${HEAPMARK_ATTACH_PROMTOOL}")
    add_dependencies(${t} heapmark hmtest_attach_target hmtest_attach_target_static heapmark_ptmalloc hmtest_forward)
    gtest_discover_tests(${t} DISCOVERY_TIMEOUT 30 PROPERTIES LABELS integration)
  endforeach()
endif()
