#include "tests/integration/kv_crash_workload.h"

namespace raft::testing {

namespace {
std::string key_at(Index index) {
  return "key-" + std::to_string((index * 7) % 16);
}
}  // namespace

std::string kv_command_at(Index index) {
  kv::pb::Command command;
  if (index % 9 == 0) {
    command.mutable_delete_()->set_key(key_at(index));
  } else {
    command.mutable_put()->set_key(key_at(index));
    command.mutable_put()->set_value("value of " + std::to_string(index));
  }
  return command.SerializeAsString();
}

std::map<std::string, ExpectedValue> kv_state_after(Index applied) {
  std::map<std::string, ExpectedValue> state;
  for (Index index = 1; index <= applied; ++index) {
    const std::string key = key_at(index);
    if (index % 9 == 0) {
      state.erase(key);
      continue;
    }
    auto [it, created] = state.try_emplace(key);
    it->second.value = "value of " + std::to_string(index);
    it->second.version = created ? 1 : it->second.version + 1;
    if (created) it->second.create_index = index;
    it->second.mod_index = index;
  }
  return state;
}

}  // namespace raft::testing
