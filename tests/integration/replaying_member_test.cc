// A member that restarts with a store behind its log: kv::Store keeps only
// what RocksDB flushed (the Raft log is its write-ahead log), so after a
// crash it replays entries it had applied -- and answered reads from --
// before. Until it has, a serializable read would go back in time on the
// same member; it is refused instead, and answered again once the replay
// reaches the commit index the member recovered.
//
// Real kv::Store, raft::Server and KvService over gRPC on loopback; the
// store that "lost" its applies is a fresh one, and its applies wait on a
// gate so that the replay is caught in the middle.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "kvstore/kv_service.h"
#include "kvstore/store.h"
#include "raft/in_memory_snapshot_store.h"
#include "raft/in_memory_storage.h"
#include "raft/local_transport.h"
#include "raft/server.h"
#include "raft/static_discovery.h"
#include "tests/unit/eventually.h"
#include "tests/unit/temporary_directory.h"

namespace kv {
namespace {

using namespace std::chrono_literals;
namespace api = raftkv::api;

constexpr int kWrites = 100;

std::string put(const std::string& key, const std::string& value) {
  pb::Command command;
  command.mutable_put()->set_key(key);
  command.mutable_put()->set_value(value);
  return command.SerializeAsString();
}

// A state machine whose applies wait until the test opens the gate; all
// else goes straight to the store.
class GatedStateMachine final : public raft::StateMachine {
 public:
  explicit GatedStateMachine(std::shared_ptr<Store> store) : store_(std::move(store)) {}

  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    opened_.notify_all();
  }

  raft::Result<std::string> apply(raft::Index index, std::string_view command) override {
    wait_open();
    return store_->apply(index, command);
  }
  raft::Result<std::vector<std::string>> apply_all(
      std::span<const raft::CommittedCommand> commands) override {
    wait_open();
    return store_->apply_all(commands);
  }
  raft::Index applied_index() const override { return store_->applied_index(); }
  std::unique_ptr<raft::StateMachineView> view() override { return store_->view(); }
  raft::Status restore(raft::Index index, raft::SnapshotSource& source) override {
    return store_->restore(index, source);
  }

 private:
  void wait_open() {
    std::unique_lock lock(mutex_);
    opened_.wait(lock, [&] { return open_; });
  }

  std::shared_ptr<Store> store_;
  std::mutex mutex_;
  std::condition_variable opened_;
  bool open_ = false;
};

class ReplayingMember : public ::testing::Test {
 protected:
  std::unique_ptr<raft::Server> make_server(std::shared_ptr<raft::StateMachine> machine) {
    raft::ServerOptions options;
    options.core.id = 1;
    options.core.random_seed = 1;
    options.tick_interval = 5ms;
    return std::make_unique<raft::Server>(options, storage_, snapshots_, network_->endpoint(), discovery_,
                                          std::move(machine));
  }

  std::shared_ptr<Store> open_store(const std::string& name) {
    auto opened = Store::open(root_.sub(name));
    EXPECT_TRUE(opened.ok()) << opened.error().to_string();
    return opened.ok() ? std::shared_ptr<Store>(std::move(opened).value()) : nullptr;
  }

  raft::testing::TemporaryDirectory root_;
  std::shared_ptr<raft::InMemoryStorage> storage_ = std::make_shared<raft::InMemoryStorage>();
  std::shared_ptr<raft::InMemorySnapshotStore> snapshots_ = std::make_shared<raft::InMemorySnapshotStore>();
  std::shared_ptr<raft::LocalNetwork> network_ = raft::LocalNetwork::create();
  std::shared_ptr<raft::StaticDiscovery> discovery_ =
      std::make_shared<raft::StaticDiscovery>(std::vector<raft::Peer>{{1, "a"}});
};

TEST_F(ReplayingMember, RefusesSerializableReadsUntilItHasReplayedWhatItHadCommitted) {
  // Before the crash: the member applies every write and could have
  // answered a serializable read of the last one.
  {
    std::shared_ptr<Store> before = open_store("kv-before");
    ASSERT_TRUE(before);
    auto server = make_server(before);
    ASSERT_TRUE(server->start().ok());
    ASSERT_TRUE(raft::testing::eventually([&] { return server->status().role == raft::Role::kLeader; }));
    std::vector<std::future<raft::Result<raft::Applied>>> writes;
    for (int i = 0; i < kWrites; ++i) writes.push_back(server->propose(put("key-" + std::to_string(i), "v")));
    for (auto& write : writes) ASSERT_TRUE(write.get().ok());
    server->stop();
  }

  // After it: the same log and hard state, a store that kept nothing.
  std::shared_ptr<Store> store = open_store("kv-after");
  ASSERT_TRUE(store);
  ASSERT_EQ(store->applied_index(), 0u);
  auto gated = std::make_shared<GatedStateMachine>(store);
  auto server = make_server(gated);
  ASSERT_TRUE(server->start().ok());
  const raft::Index recovered = server->recovered_commit_index();
  ASSERT_GT(recovered, static_cast<raft::Index>(kWrites)) << "every write was committed before the restart";

  KvServiceOptions options;
  options.cluster_id = 1;
  options.member_id = 1;
  KvService service(options, *server, *store);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> client_server = builder.BuildAndStart();
  ASSERT_NE(port, 0);
  auto client = api::KV::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  auto serializable_get = [&](const std::string& key, api::RangeResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 5s);
    api::RangeRequest request;
    request.set_key(key);
    request.set_serializable(true);
    return client->Range(&context, request, response);
  };

  const std::string last_key = "key-" + std::to_string(kWrites - 1);
  api::RangeResponse response;
  const grpc::Status refused = serializable_get(last_key, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE)
      << "answered from a store at applied index " << store->applied_index() << " with "
      << response.kvs_size() << " keys, before the replay reached " << recovered;
  EXPECT_NE(refused.error_message().find("is replaying its log after a restart (applied 0 of the " +
                                         std::to_string(recovered) + " entries it had committed)"),
            std::string::npos)
      << refused.error_message();

  gated->open();
  ASSERT_TRUE(raft::testing::eventually([&] { return store->applied_index() >= recovered; }));
  response.Clear();
  const grpc::Status answered = serializable_get(last_key, &response);
  ASSERT_TRUE(answered.ok()) << answered.error_message();
  ASSERT_EQ(response.kvs_size(), 1);
  EXPECT_EQ(response.kvs(0).value(), "v");

  client_server->Shutdown(std::chrono::system_clock::now() + 1s);
  server->stop();
}

}  // namespace
}  // namespace kv
