#pragma once
// The keys kv::Store writes inside a generation's column family. Every
// value is a checksummed record (raft::storage_record::seal).
//
//   "a"                 the applied index (8 bytes, big-endian)
//   "t"                 the cluster time, ms (8 bytes, big-endian)
//   "d" + user key      StoredValue
//   "s" + client id     StoredSession (client id: 8 bytes, big-endian)

#include <cstdint>
#include <string>
#include <string_view>

#include "raft/storage_record.h"

namespace kv::keys {

inline constexpr char kApplied[] = "a";
inline constexpr char kClusterTime[] = "t";
inline constexpr char kDataPrefix = 'd';
inline constexpr char kSessionPrefix = 's';

inline std::string data(std::string_view user_key) {
  std::string key(1, kDataPrefix);
  key.append(user_key);
  return key;
}

inline std::string session(std::uint64_t client_id) {
  return std::string(1, kSessionPrefix) + raft::storage_record::big_endian(client_id, 8);
}

// Whether `key` is one the store writes (so a snapshot may carry it).
inline bool known(std::string_view key) {
  return key == kApplied || key == kClusterTime ||
         (!key.empty() && (key[0] == kDataPrefix || key[0] == kSessionPrefix));
}

}  // namespace kv::keys
