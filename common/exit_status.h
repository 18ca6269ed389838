// heapmark's exit statuses, one list for every command (docs/exit-statuses.md).
// Scripts and CI gate on them, so a value never changes meaning.
#pragma once

namespace heapmark {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;    // a bug or an environment failure heapmark could not name better
inline constexpr int kExitBadInput = 2;    // bad input: one line naming the file, field or value (InputError)
inline constexpr int kExitRegression = 3;  // compare --fail-on-regression: a figure regressed beyond the threshold
inline constexpr int kExitCellsFailed =
    4;  // run (and repro, replay, diagnose): every cell ran, and at least one failed (recorded with its cause)
inline constexpr int kExitEnvironment =
    5;  // the system refused a write (no space, read-only, permission): EnvironmentError
inline constexpr int kExitInterrupted = 130;  // SIGINT/SIGTERM: finish with --resume

// What `heapmark --help` (and so the man page) says of each status.
struct ExitStatusDoc {
  int status;
  const char* meaning;
};
inline constexpr ExitStatusDoc kExitStatusDocs[] = {
    {kExitOk, "success (run: every cell ran and is ok)"},
    {kExitInternal, "internal error"},
    {kExitBadInput, "bad input, named in one line; nothing already written is lost"},
    {kExitRegression, "compare --fail-on-regression: a figure regressed beyond the threshold"},
    {kExitCellsFailed,
     "run, repro, replay, diagnose: every cell ran and at least one failed (recorded with its cause)"},
    {kExitEnvironment,
     "the system refused a write (no space left, read-only filesystem, permission), named with its path; "
     "what finished is kept: free the space and finish with the command printed"},
    {kExitInterrupted,
     "interrupted: finish with the command printed (heapmark run --resume DIR, heapmark repro --resume DIR)"},
};

}  // namespace heapmark
