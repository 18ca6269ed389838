// Which processes `heapmark attach` may look at: one that exists, is a user
// process with memory of its own (not a kernel thread, not a zombie), is not
// heapmark itself, and whose /proc this user may read (ptrace access mode:
// root, CAP_SYS_PTRACE, or the same user within kernel.yama.ptrace_scope).
#pragma once
#include <sys/types.h>

#include <string>

namespace heapmark::attach {

// The PID as given on the command line; throws InputError (one line naming
// the value and what to change) for anything attach cannot look at.
pid_t check_target(const std::string& pid_text);

}  // namespace heapmark::attach
