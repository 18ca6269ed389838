# The Windows cross build's suite (preset windows), run under wine64 through
# the toolchain's emulator (scripts/lib/wine-run): the shared conformance suite
# and stress program for each in-house core over the Windows OS contract, the
# contract itself checked against VirtualQuery, and heapmark-winprobe's figures.
include(${CMAKE_SOURCE_DIR}/tests/conformance/helpers.cmake)
heapmark_add_allocator_tests(buddy CORE heapmark::buddy::Core HEADER buddy/buddy_core.h
                             LINK hm_buddy REGISTRY_NAME buddy)
heapmark_add_allocator_tests(slab CORE heapmark::slab::Core HEADER slab/slab_core.h
                             LINK hm_slab REGISTRY_NAME slab)
heapmark_add_allocator_tests(ptmalloc CORE heapmark::pt::Core HEADER ptmalloc_style/core.h
                             LINK hm_ptmalloc REGISTRY_NAME ptmalloc-style)
# Eager release: every free page goes back at once and is taken again by the
# next allocations, so a core that touched a decommitted page without
# recommitting it would fault here (on Linux the page would just read zero).
add_test(NAME stress_buddy_eager COMMAND stress_buddy --smoke)
add_test(NAME stress_slab_eager COMMAND stress_slab --smoke)
add_test(NAME stress_ptmalloc_eager COMMAND stress_ptmalloc --smoke)
set_tests_properties(stress_buddy_eager PROPERTIES ENVIRONMENT "HEAPMARK_BUDDY_DECOMMIT=eager")
set_tests_properties(stress_slab_eager PROPERTIES ENVIRONMENT "HEAPMARK_SLAB_DECOMMIT=eager")
set_tests_properties(stress_ptmalloc_eager PROPERTIES ENVIRONMENT "HEAPMARK_PT_RELEASE=eager")
set_tests_properties(stress_buddy_eager stress_slab_eager stress_ptmalloc_eager PROPERTIES
                     LABELS "core;windows" TIMEOUT 120)

add_executable(os_windows_test ${CMAKE_CURRENT_LIST_DIR}/os_windows_test.cc)
target_link_libraries(os_windows_test PRIVATE hm_os GTest::gtest GTest::gtest_main psapi)
add_test(NAME os_windows COMMAND os_windows_test)
set_tests_properties(os_windows PROPERTIES LABELS "core;windows" TIMEOUT 120)

# The probe's figures under Wine: decommit lowers the working set and the
# commit charge while the reservation stays (checked on the Linux side).
add_test(NAME winprobe
         COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/winprobe_check.py $<TARGET_FILE:heapmark-winprobe>
                 ${CMAKE_SOURCE_DIR}/scripts/lib/wine-run)
set_tests_properties(winprobe PROPERTIES LABELS "core;windows" TIMEOUT 300)
