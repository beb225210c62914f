#pragma once
// Filling in log payloads that the core dropped from memory.
//
// With CoreConfig::log_payload_cache_bytes set, the core keeps only the
// index and term of old applied entries; an AppendEntries to a follower that
// lags behind them carries those entries without their commands. Before the
// message is sent, the driver reads the commands back from storage -- the
// same storage it saved them to, on the same thread -- with this.

#include "raft/result.h"
#include "raft/storage.h"
#include "raft/types.h"

namespace raft {

enum class PayloadFill {
  kReady,      // every entry of the message has its payload: send it
  kCompacted,  // the entries were compacted away since the message was made: drop it
               // (the follower is then sent the snapshot instead)
};

// `payloads_from` and `log_base` are the core's RaftLog::payloads_from() and
// base_index() now. An error is a storage failure: the node cannot go on.
Result<PayloadFill> fill_dropped_payloads(pb::Message& message, Index payloads_from, Index log_base,
                                          Storage& storage);

}  // namespace raft
