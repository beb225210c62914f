#pragma once
// Runs a command (ip, nft) to completion and says what went wrong if it did:
// the fault harness sets up and changes its network with these, and a
// network it could not make is a failed run, not a silently weaker one.

#include <string>
#include <vector>

namespace raftkv::fault {

struct CommandResult {
  int exit_status = 0;  // -1 when killed by a signal or not started
  std::string output;   // stdout and stderr together
};

CommandResult run_command(const std::vector<std::string>& argv);

// Runs it and throws std::runtime_error naming the command and its output
// when it does not exit 0.
void run_or_throw(const std::vector<std::string>& argv);

// Whether `program` is an executable somewhere on PATH.
bool on_path(const std::string& program);

}  // namespace raftkv::fault
