#pragma once
// Where RocksDB's own messages go: the process's log (spdlog), warnings and
// errors only, each naming the database -- instead of the LOG files RocksDB
// writes into every database directory by default.
//
// Two reasons. An operator reads one log, and a RocksDB error (a failed
// write, a corruption found in compaction) belongs in it. And the LOG file
// is a write on the data disk like any other: when that disk fails or
// fills, Debian's RocksDB 7.8 (built with assertions) aborts the process
// on the next log line (WritableFileWriter::AssertFalseAndGetStatusForPrevError)
// before the member can stop as raft::Server::on_fault has it stop.
// RocksDB's informational chatter (flush and compaction statistics) is
// dropped.

#include <rocksdb/env.h>

#include <cstdarg>
#include <memory>
#include <string>

namespace raft {

class RocksDbLogger final : public rocksdb::Logger {
 public:
  // `database`: how log lines name it ("raft log in /var/lib/raftkv/raft").
  explicit RocksDbLogger(std::string database);

  void Logv(const char* format, va_list ap) override;
  void Logv(rocksdb::InfoLogLevel level, const char* format, va_list ap) override;

 private:
  const std::string database_;
};

// For DBOptions::info_log.
std::shared_ptr<rocksdb::Logger> rocksdb_logger(std::string database);

}  // namespace raft
