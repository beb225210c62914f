// libFuzzer target: the client request decoding path. Bytes arrive as a KV
// request (Put, Delete, Txn or Range, as the KV service reads them off the
// wire) or as a raw state machine command (what a log entry carries); each is
// parsed, checked the way the service checks it, and what passes is applied
// to -- or read from -- a real kv::Store on RocksDB. Nothing may crash, every
// apply must answer with a readable CommandResult, a command the store
// refuses (its answer carries an error) must leave every key, value and
// version as it was, and the store's applied index must follow the commands.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <utility>
#include <vector>

#include "kvstore/store.h"
#include "tests/fuzz/quiet_protobuf.h"

namespace {

namespace api = raftkv::api;

[[noreturn]] void violated(const char* rule) {
  std::fprintf(stderr, "invariant violated: %s\n", rule);
  std::abort();
}

// One store at a time, in a directory removed at exit. It is made afresh
// every few hundred commands, so that comparing its whole content before
// and after a command stays cheap.
struct Fixture {
  Fixture() {
    char pattern[] = "/tmp/raftkv-fuzz-XXXXXX";
    directory = mkdtemp(pattern);
    open_fresh();
  }
  ~Fixture() {
    store.reset();
    std::error_code ignored;
    std::filesystem::remove_all(directory, ignored);
  }
  void open_fresh() {
    store.reset();
    std::error_code ignored;
    std::filesystem::remove_all(directory + "/store", ignored);
    auto opened = kv::Store::open(directory + "/store");
    if (!opened.ok()) violated("cannot open the store");
    store = std::move(opened).value();
    next_index = 1;
  }
  std::string directory;
  std::unique_ptr<kv::Store> store;
  raft::Index next_index = 1;
};

Fixture& fixture() {
  static Fixture instance;
  return instance;
}

// Everything a client can read: each key with its value and history.
std::vector<std::pair<std::string, std::string>> client_visible_state() {
  auto all = fixture().store->all();
  if (!all.ok()) violated("the store cannot be read");
  std::vector<std::pair<std::string, std::string>> state;
  for (const auto& [key, value] : all.value()) state.emplace_back(key, value.SerializeAsString());
  return state;
}

// Applies one log entry's payload; false if the store failed (which the
// caller decides about).
bool apply_payload(std::string_view payload) {
  Fixture& f = fixture();
  if (f.next_index > 300) f.open_fresh();
  const auto before = client_visible_state();
  const raft::Result<std::string> result = f.store->apply(f.next_index, payload);
  if (!result.ok()) return false;
  kv::pb::CommandResult answer;
  if (!answer.ParseFromString(result.value())) violated("an unreadable command result");
  if (f.store->applied_index() != f.next_index) violated("the applied index did not follow");
  if (!answer.error().empty() && client_visible_state() != before)
    violated("a refused command changed the state");
  ++f.next_index;
  return true;
}

void apply(const kv::pb::Command& command) {
  const bool valid = kv::Store::problem_with(command).empty();
  if (!valid) return;  // the service answers INVALID_ARGUMENT; nothing reaches the log
  if (!apply_payload(command.SerializeAsString())) violated("the store failed on a valid command");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  const int kind = input.ConsumeIntegralInRange(0, 4);
  const std::string bytes = input.ConsumeRemainingBytesAsString();
  kv::pb::Command command;
  switch (kind) {
    case 0: {
      if (!command.mutable_put()->ParseFromString(bytes)) return 0;
      apply(command);
      break;
    }
    case 1: {
      if (!command.mutable_delete_()->ParseFromString(bytes)) return 0;
      apply(command);
      break;
    }
    case 2: {
      if (!command.mutable_txn()->ParseFromString(bytes)) return 0;
      apply(command);
      break;
    }
    case 3: {
      api::RangeRequest request;
      if (!request.ParseFromString(bytes)) return 0;
      (void)fixture().store->range(request);  // an error is an answer too
      break;
    }
    case 4: {
      // A log entry's payload as the state machine receives it: anything
      // that parses is applied, valid or not (apply() refuses in its answer).
      (void)apply_payload(bytes);
      break;
    }
  }
  return 0;
}
