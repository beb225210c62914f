#pragma once
// The bytes of the regular files under a directory: a data directory's size
// on disk, as Admin.Status and the metrics report it.

#include <cstdint>
#include <filesystem>
#include <string>

namespace kv {

inline std::uint64_t directory_bytes(const std::string& directory) {
  std::uint64_t total = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(directory, error)) {
    if (entry.is_regular_file(error)) total += entry.file_size(error);
  }
  return total;
}

}  // namespace kv
