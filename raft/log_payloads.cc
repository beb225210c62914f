#include "raft/log_payloads.h"

#include <string>
#include <vector>

namespace raft {

Result<PayloadFill> fill_dropped_payloads(pb::Message& message, Index payloads_from, Index log_base,
                                          Storage& storage) {
  if (!message.has_append_entries()) return PayloadFill::kReady;
  auto& entries = *message.mutable_append_entries()->mutable_entries();
  // Entries are contiguous and only the oldest lose their payloads, so the
  // ones to fill are a prefix. An entry whose command is empty (a leader's
  // no-op) is read again too: harmless, and cheaper than telling them apart.
  int missing = 0;
  while (missing < entries.size() && entries[missing].index() < payloads_from &&
         entries[missing].data().empty()) {
    ++missing;
  }
  if (missing == 0) return PayloadFill::kReady;
  const Index first = entries[0].index();
  const Index last = entries[missing - 1].index();
  if (first <= log_base) return PayloadFill::kCompacted;
  Result<std::vector<pb::Entry>> stored = storage.read_entries(first, last);
  if (!stored.ok()) return stored.error();
  std::vector<pb::Entry> read = std::move(stored).value();
  for (int i = 0; i < missing; ++i) {
    pb::Entry& stored_entry = read[static_cast<std::size_t>(i)];
    // What storage holds at these indexes is what the core has: the same
    // terms, or the node's state is broken.
    if (stored_entry.term() != entries[i].term()) {
      return Error{ErrorCode::kStorage, "log index " + std::to_string(stored_entry.index()) + " has term " +
                                            std::to_string(stored_entry.term()) + " on disk but " +
                                            std::to_string(entries[i].term()) + " in memory"};
    }
    entries[i] = std::move(stored_entry);
  }
  return PayloadFill::kReady;
}

}  // namespace raft
