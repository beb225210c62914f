#pragma once
// One memory budget for the RocksDB databases of a process.
//
// Each RocksDB database sizes its memtables and block cache on its own, by
// default generously (64 MiB write buffers per column family, a 32 MiB
// block cache per database). A raftkvd member opens two databases -- the
// Raft log and the key-value store -- and would hold well over 100 MiB
// after a burst of writes. With a shared budget, both draw on one LRU block
// cache whose capacity is the whole budget, and their memtables are charged
// to that cache (RocksDB's WriteBufferManager): when the memtables of all
// databases together reach half the budget, the largest is flushed.

#include <cstddef>
#include <memory>

namespace rocksdb {
class Cache;
class WriteBufferManager;
struct ColumnFamilyOptions;
struct DBOptions;
}  // namespace rocksdb

namespace raft {

class RocksDbMemory {
 public:
  // A budget of `bytes` (at least 4 MiB) for block cache and memtables.
  static std::shared_ptr<RocksDbMemory> create(std::size_t bytes);

  std::size_t bytes() const { return bytes_; }
  // What the databases on this budget hold now: memtables, and the block
  // cache (which includes the memtables' charge).
  std::size_t memtable_bytes() const;
  std::size_t cache_bytes() const;
  // Puts a database on this budget.
  void apply(rocksdb::DBOptions& options) const;
  // Puts a column family on it: its block cache, and a write buffer of at
  // most `write_buffer_bytes` but never more than the memtables' share.
  void apply(rocksdb::ColumnFamilyOptions& options, std::size_t write_buffer_bytes) const;

 private:
  RocksDbMemory(std::size_t bytes, std::shared_ptr<rocksdb::Cache> cache,
                std::shared_ptr<rocksdb::WriteBufferManager> write_buffers);

  std::size_t bytes_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
};

}  // namespace raft
