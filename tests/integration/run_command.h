#pragma once
// Runs a shell command as a child process (killed by PID if the test ends
// first), its stdout and stderr to `capture`; returns its exit status (-1 if
// it was killed or did not exit within `timeout`) and what it printed.

#include <chrono>
#include <string>
#include <utility>

#include "tests/integration/child_process.h"
#include "tests/integration/read_file.h"

namespace raft::testing {

inline std::pair<int, std::string> run_command(const std::string& command, const std::string& capture,
                                               std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  ChildProcess process({"/bin/sh", "-c", "exec " + command + " >" + capture + " 2>&1"});
  const int status = process.wait_exit(timeout).value_or(-1);
  return {status, read_file(capture)};
}

}  // namespace raft::testing
