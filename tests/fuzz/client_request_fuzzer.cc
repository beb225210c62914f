// libFuzzer target: the client request decoding path. Bytes arrive as a KV
// request (Put, Delete, Txn or Range, as the KV service reads them off the
// wire) or as a raw state machine command (what a log entry carries); each is
// parsed, checked the way the service checks it, and what passes is applied
// to -- or read from -- a real kv::Store on RocksDB. Nothing may crash, every
// apply must answer with a readable CommandResult, a refused request must
// change nothing, and the store's applied index must follow the commands.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "kvstore/store.h"
#include "tests/fuzz/quiet_protobuf.h"

namespace {

namespace api = raftkv::api;

[[noreturn]] void violated(const char* rule) {
  std::fprintf(stderr, "invariant violated: %s\n", rule);
  std::abort();
}

// One store for the whole run, in a directory removed at exit.
struct Fixture {
  Fixture() {
    char pattern[] = "/tmp/raftkv-fuzz-XXXXXX";
    directory = mkdtemp(pattern);
    auto opened = kv::Store::open(directory);
    if (!opened.ok()) violated("cannot open the store");
    store = std::move(opened).value();
  }
  ~Fixture() {
    store.reset();
    std::error_code ignored;
    std::filesystem::remove_all(directory, ignored);
  }
  std::string directory;
  std::unique_ptr<kv::Store> store;
  raft::Index next_index = 1;
};

Fixture& fixture() {
  static Fixture instance;
  return instance;
}

void apply(const kv::pb::Command& command) {
  Fixture& f = fixture();
  const bool valid = kv::Store::problem_with(command).empty();
  if (!valid) return;  // the service answers INVALID_ARGUMENT; nothing reaches the log
  const raft::Result<std::string> result = f.store->apply(f.next_index, command.SerializeAsString());
  if (!result.ok()) violated("the store failed on a valid command");
  kv::pb::CommandResult answer;
  if (!answer.ParseFromString(result.value())) violated("an unreadable command result");
  if (f.store->applied_index() != f.next_index) violated("the applied index did not follow");
  ++f.next_index;
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
      Fixture& f = fixture();
      const raft::Result<std::string> result = f.store->apply(f.next_index, bytes);
      if (result.ok()) {
        kv::pb::CommandResult answer;
        if (!answer.ParseFromString(result.value())) violated("an unreadable command result");
        ++f.next_index;
      }
      break;
    }
  }
  return 0;
}
