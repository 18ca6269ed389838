# Running a matrix beyond one machine, with the engines users have (scripts/cluster).
if(NOT HEAPMARK_CORE_ONLY)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  add_test(NAME cluster_parallel
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/parallel_test.py $<TARGET_FILE:heapmark>
                   ${CMAKE_CURRENT_BINARY_DIR}/cluster-parallel)
  set_tests_properties(cluster_parallel PROPERTIES LABELS cluster TIMEOUT 300)
  add_test(NAME cluster_slurm
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/slurm_test.py $<TARGET_FILE:heapmark>
                   ${CMAKE_CURRENT_BINARY_DIR}/cluster-slurm)
  # One Slurm cluster at a time (fixed ports); skipped (77) where slurmd cannot run as root.
  set_tests_properties(cluster_slurm PROPERTIES LABELS cluster TIMEOUT 600 RUN_SERIAL TRUE SKIP_RETURN_CODE 77)
endif()
