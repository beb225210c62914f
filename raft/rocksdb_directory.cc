#include "raft/rocksdb_directory.h"

#include <filesystem>

namespace raft {

Status prepare_rocksdb_directory(const std::string& role, const std::string& directory) {
  auto refuse = [&](const std::string& what) {
    return Error{ErrorCode::kStorage, role + " " + directory + ": " + what};
  };
  std::error_code error;
  const std::filesystem::path path(directory);
  if (std::filesystem::exists(path, error)) {
    if (!std::filesystem::is_directory(path, error)) return refuse("exists and is not a directory");
    const bool empty = std::filesystem::is_empty(path, error);
    if (!empty && !std::filesystem::exists(path / "CURRENT", error)) {
      return refuse("is not empty and holds no RocksDB database (no CURRENT file); refusing to touch it");
    }
  } else if (!std::filesystem::create_directories(path, error) && error) {
    return refuse("cannot be created: " + error.message());
  }
  return {};
}

}  // namespace raft
