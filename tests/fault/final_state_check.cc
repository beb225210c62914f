#include "tests/fault/final_state_check.h"

namespace raftkv::fault {

using checker::Operation;
using checker::OpKind;
using checker::Outcome;

std::vector<LostWrite> find_lost_writes(const checker::History& history,
                                        const std::map<std::string, std::optional<std::string>>& finals) {
  std::map<std::string, std::vector<const Operation*>> acknowledged;  // by key
  std::map<std::string, const Operation*> writer_of;                  // by value
  for (const Operation& operation : history) {
    if (operation.kind == OpKind::kRead || !operation.value) continue;
    writer_of[*operation.value] = &operation;
    const bool took_effect = operation.kind == OpKind::kWrite || operation.swapped;
    if (operation.outcome == Outcome::kOk && took_effect) acknowledged[operation.key].push_back(&operation);
  }
  std::vector<LostWrite> lost;
  for (const auto& [key, final_value] : finals) {
    const auto writes = acknowledged.find(key);
    if (!final_value) {
      if (writes != acknowledged.end()) {
        lost.push_back({key, "key " + key + " is absent at the end, but " +
                                 std::to_string(writes->second.size()) +
                                 " writes to it were acknowledged (the first: #" +
                                 std::to_string(writes->second.front()->id) + ")"});
      }
      continue;
    }
    const auto writer = writer_of.find(*final_value);
    if (writer == writer_of.end() || writer->second->key != key) {
      lost.push_back({key, "key " + key + " ends with \"" + *final_value + "\", which nobody wrote to it"});
      continue;
    }
    // An unknown write completes at +infinity: it may have been the last.
    if (writes == acknowledged.end() || writer->second->outcome == Outcome::kUnknown) continue;
    for (const Operation* write : writes->second) {
      if (*write->value != *final_value && writer->second->complete < write->invoke) {
        lost.push_back({key, "acknowledged write #" + std::to_string(write->id) + " of \"" + *write->value +
                                 "\" to " + key + " is lost: the key ends with \"" + *final_value +
                                 "\", written by #" + std::to_string(writer->second->id) +
                                 ", which completed before it began"});
        break;
      }
    }
  }
  return lost;
}

}  // namespace raftkv::fault
