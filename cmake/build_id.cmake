# Writes OUT (a header defining HEAPMARK_GIT_COMMIT) from `git describe
# --always --dirty` of SRC. Run at every build (harness/CMakeLists.txt,
# target hm_build_id), so a binary names the commit that built it, not the
# one checked out when CMake last configured. OUT is rewritten only when the
# commit changes: an unchanged tree recompiles nothing.
execute_process(COMMAND git -C "${SRC}" describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT commit)
  set(commit "unknown")  # a source tree without git (a release tarball)
endif()
set(text "// Generated at build time by cmake/build_id.cmake: the commit that built this heapmark.\n#define HEAPMARK_GIT_COMMIT \"${commit}\"\n")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
