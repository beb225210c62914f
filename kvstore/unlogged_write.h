#pragma once
// Every write to kv::Store skips RocksDB's write-ahead log. The Raft log is
// the store's write-ahead log; RocksDB's own, never synced, does not come
// back as a prefix of what was written after a power failure (it can hold
// later batches without earlier ones: store_power_loss_test). Without it,
// what survives is exactly what RocksDB last flushed -- the state after one
// applied index -- and the node replays the Raft log from there.

#include <rocksdb/options.h>

namespace kv {

inline rocksdb::WriteOptions unlogged() {
  rocksdb::WriteOptions options;
  options.disableWAL = true;
  return options;
}

}  // namespace kv
