#include "raft/rocksdb_logger.h"

#include <spdlog/spdlog.h>

#include <cstdio>

namespace raft {

RocksDbLogger::RocksDbLogger(std::string database)
    : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), database_(std::move(database)) {}

void RocksDbLogger::Logv(const char*, va_list) {
  // Lines without a level (RocksDB's header) are informational: dropped.
}

void RocksDbLogger::Logv(rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  if (level < GetInfoLogLevel()) return;
  char text[1024];
  std::vsnprintf(text, sizeof text, format, ap);
  if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
    spdlog::error("rocksdb ({}): {}", database_, text);
  } else {
    spdlog::warn("rocksdb ({}): {}", database_, text);
  }
}

std::shared_ptr<rocksdb::Logger> rocksdb_logger(std::string database) {
  return std::make_shared<RocksDbLogger>(std::move(database));
}

}  // namespace raft
