#pragma once
// Where a RocksDB database may be opened: the check RocksDbStorage and
// kv::Store make before they let RocksDB create or open anything, so that
// a mistyped path never turns someone's directory into a database.

#include <string>

#include "raft/result.h"

namespace raft {

// Creates `directory` (with its parents) if it is missing. Refuses a file
// in its place and a directory that is neither empty nor a RocksDB
// database. Errors read "<role> <directory>: <what is wrong>".
Status prepare_rocksdb_directory(const std::string& role, const std::string& directory);

}  // namespace raft
