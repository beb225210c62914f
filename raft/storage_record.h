#pragma once
// The on-disk encoding RocksDbStorage uses, in one place so that the storage
// and the tests that damage its files on purpose agree byte for byte.
//
//   log key   index as 8 bytes, big-endian (keys sort in log order)
//   record    CRC-32C of the payload (4 bytes, little-endian) + payload
//   version   the format version as 4 bytes, big-endian

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "raft/types.h"

namespace raft::storage_record {

std::string big_endian(std::uint64_t value, std::size_t bytes);
// nullopt unless `data` is exactly `bytes` long.
std::optional<std::uint64_t> from_big_endian(std::string_view data, std::size_t bytes);

inline std::string log_key(Index index) {
  return big_endian(index, 8);
}
inline std::optional<Index> index_of_key(std::string_view key) {
  return from_big_endian(key, 8);
}

std::string seal(std::string_view payload);
// The payload of a record, or nullopt when it is truncated or its checksum
// does not match.
std::optional<std::string_view> open(std::string_view record);

}  // namespace raft::storage_record
