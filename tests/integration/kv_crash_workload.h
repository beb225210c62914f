#pragma once
// The command stream of the key-value crash test, shared by the child that
// applies it to a kv::Store and the parent that checks what survived: the
// command at each index is a pure function of the index, so the state after
// any applied index is known exactly.

#include <map>
#include <string>

#include "kvstore/store.h"

namespace raft::testing {

// Puts to 16 keys, with a delete every ninth index.
std::string kv_command_at(Index index);

struct ExpectedValue {
  std::string value;
  std::uint64_t version = 0;
  Index create_index = 0;
  Index mod_index = 0;
};

// The store's contents after applying kv_command_at(1..applied).
std::map<std::string, ExpectedValue> kv_state_after(Index applied);

}  // namespace raft::testing
