# heapmark_add_preload_library(<target> SOURCES <export .cc>... LINK <core libs>...)
# builds lib<target>.so into the build dir root for LD_PRELOAD: hidden visibility
# so only the symbols of export_malloc.inc are exported, static libraries' symbols
# kept private, initial-exec TLS, immediate binding (no lazy PLT resolution
# inside malloc). Sanitizer builds skip it: the sanitizers own malloc there;
# so does the Windows build, which has no LD_PRELOAD.
function(heapmark_add_preload_library target)
  cmake_parse_arguments(ARG "" "" "SOURCES;LINK" ${ARGN})
  if(HEAPMARK_SANITIZE OR WIN32)
    return()
  endif()
  add_library(${target} SHARED ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE hm_shim ${ARG_LINK} Threads::Threads)
  set_target_properties(${target} PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_compile_options(${target} PRIVATE -fno-builtin-malloc -fno-builtin-free -fno-builtin-calloc
                                           -fno-builtin-realloc)
  target_link_options(${target} PRIVATE -Wl,--exclude-libs,ALL -Wl,-z,now -Wl,--as-needed)
endfunction()
