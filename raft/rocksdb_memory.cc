#include "raft/rocksdb_memory.h"

#include <rocksdb/cache.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>

namespace raft {

std::shared_ptr<RocksDbMemory> RocksDbMemory::create(std::size_t bytes) {
  bytes = std::max<std::size_t>(bytes, 4 << 20);
  auto cache = rocksdb::NewLRUCache(bytes);
  // Memtables get half the budget; charging them to the cache keeps cached
  // blocks and memtables together within it. Flushes run in the
  // background, so writes faster than the disk could pile up memtables
  // beyond any budget: with stalls allowed, writes wait for a flush once the
  // memtables hold the whole half.
  auto write_buffers = std::make_shared<rocksdb::WriteBufferManager>(bytes / 2, cache, /*allow_stall=*/true);
  return std::shared_ptr<RocksDbMemory>(new RocksDbMemory(bytes, std::move(cache), std::move(write_buffers)));
}

RocksDbMemory::RocksDbMemory(std::size_t bytes, std::shared_ptr<rocksdb::Cache> cache,
                             std::shared_ptr<rocksdb::WriteBufferManager> write_buffers)
    : bytes_(bytes), cache_(std::move(cache)), write_buffers_(std::move(write_buffers)) {}

std::size_t RocksDbMemory::memtable_bytes() const {
  return write_buffers_->memory_usage();
}

std::size_t RocksDbMemory::cache_bytes() const {
  return cache_->GetUsage();
}

void RocksDbMemory::apply(rocksdb::DBOptions& options) const {
  options.write_buffer_manager = write_buffers_;
}

void RocksDbMemory::apply(rocksdb::ColumnFamilyOptions& options, std::size_t write_buffer_bytes) const {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache_;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  options.write_buffer_size = std::min(write_buffer_bytes, bytes_ / 4);
}

}  // namespace raft
