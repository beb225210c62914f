#pragma once
// The whole of a file as text ("" if it cannot be read): a child process's
// log, a command's output.

#include <fstream>
#include <sstream>
#include <string>

namespace raft::testing {

inline std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace raft::testing
