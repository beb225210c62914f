// kv::Store's commands and reads: ranges, transactions, deletes of ranges,
// invalid commands, and client sessions (at-most-once, dissertation §6.3)
// with their expiry in cluster time.

#include <gtest/gtest.h>

#include "kvstore/store.h"
#include "tests/unit/memory_snapshot.h"
#include "tests/unit/temporary_directory.h"

namespace kv {
namespace {

using raft::Index;
namespace api = raftkv::api;

class KvCommands : public ::testing::Test {
 protected:
  void SetUp() override { store_ = Store::open(directory_.sub("kv")).value(); }

  pb::CommandResult run(pb::Command command, std::uint64_t cluster_time_ms = 1'000'000) {
    command.set_cluster_time_ms(cluster_time_ms);
    raft::Result<std::string> applied = store_->apply(++index_, command.SerializeAsString());
    EXPECT_TRUE(applied.ok()) << applied.error().to_string();
    pb::CommandResult result;
    EXPECT_TRUE(result.ParseFromString(applied.ok() ? applied.value() : ""));
    return result;
  }
  pb::CommandResult put(const std::string& key, const std::string& value, std::uint64_t client = 0,
                        std::uint64_t sequence = 0, std::uint64_t time = 1'000'000) {
    pb::Command command;
    command.mutable_put()->set_key(key);
    command.mutable_put()->set_value(value);
    command.mutable_put()->mutable_session()->set_client_id(client);
    command.mutable_put()->mutable_session()->set_sequence(sequence);
    return run(command, time);
  }
  api::RangeResponse range(const std::string& key, const std::string& end = "", std::int64_t limit = 0) {
    api::RangeRequest request;
    request.set_key(key);
    request.set_range_end(end);
    request.set_limit(limit);
    return store_->range(request).value();
  }
  std::vector<std::string> keys_of(const api::RangeResponse& response) {
    std::vector<std::string> keys;
    for (const api::KeyValue& kv : response.kvs()) keys.push_back(kv.key());
    return keys;
  }

  raft::testing::TemporaryDirectory directory_;
  std::unique_ptr<Store> store_;
  Index index_ = 0;
};

TEST_F(KvCommands, RangesReadOneKeyAPrefixAnIntervalOrEverythingFromAKey) {
  for (const char* key : {"a", "app", "apple", "b", "ba", "c"}) put(key, std::string("v-") + key);
  EXPECT_EQ(keys_of(range("app")), (std::vector<std::string>{"app"}));
  EXPECT_EQ(keys_of(range("ap", "aq")), (std::vector<std::string>{"app", "apple"}));  // the prefix "ap"
  EXPECT_EQ(keys_of(range("apple", "c")), (std::vector<std::string>{"apple", "b", "ba"}));
  EXPECT_EQ(keys_of(range("b", std::string("\0", 1))), (std::vector<std::string>{"b", "ba", "c"}));
  const api::RangeResponse limited = range("a", std::string("\0", 1), 2);
  EXPECT_EQ(keys_of(limited), (std::vector<std::string>{"a", "app"}));
  EXPECT_TRUE(limited.more());
  EXPECT_EQ(limited.count(), 6u);
  EXPECT_EQ(limited.header().revision(), 6u);
  EXPECT_EQ(range("a").kvs(0).value(), "v-a");
  EXPECT_TRUE(range("nothing").kvs().empty());

  api::RangeRequest keys_only;
  keys_only.set_key("a");
  keys_only.set_range_end("b");
  keys_only.set_keys_only(true);
  const api::RangeResponse listed = store_->range(keys_only).value();
  ASSERT_EQ(listed.kvs_size(), 3);
  EXPECT_EQ(listed.kvs(0).value(), "");
  keys_only.set_count_only(true);
  const api::RangeResponse counted = store_->range(keys_only).value();
  EXPECT_EQ(counted.count(), 3u);
  EXPECT_EQ(counted.kvs_size(), 0);
}

TEST_F(KvCommands, DeletingARangeRemovesEveryKeyInItAndCanReturnThem) {
  for (const char* key : {"a", "b1", "b2", "c"}) put(key, "v");
  pb::Command command;
  command.mutable_delete_()->set_key("b");
  command.mutable_delete_()->set_range_end("c");
  command.mutable_delete_()->set_prev_kv(true);
  const pb::CommandResult result = run(command);
  EXPECT_EQ(result.delete_().deleted(), 2u);
  ASSERT_EQ(result.delete_().prev_kvs_size(), 2);
  EXPECT_EQ(result.delete_().prev_kvs(1).key(), "b2");
  EXPECT_EQ(keys_of(range("a", std::string("\0", 1))), (std::vector<std::string>{"a", "c"}));
}

TEST_F(KvCommands, ATransactionAppliesOneBranchAtomicallyAndSeesItsOwnWrites) {
  put("balance", "10");
  put("owner", "ann");
  pb::Command command;
  api::TxnRequest* txn = command.mutable_txn();
  api::Compare* compare = txn->add_compare();
  compare->set_key("balance");
  compare->set_target(api::Compare::VERSION);
  compare->set_result(api::Compare::EQUAL);
  compare->set_number(1);
  txn->add_success()->mutable_put()->set_key("balance");
  txn->mutable_success(0)->mutable_put()->set_value("20");
  txn->add_success()->mutable_put()->set_key("balance");  // sees the first put: version 3
  txn->mutable_success(1)->mutable_put()->set_value("30");
  txn->mutable_success(1)->mutable_put()->set_prev_kv(true);
  txn->add_failure()->mutable_put()->set_key("conflicts");
  pb::CommandResult result = run(command);
  ASSERT_TRUE(result.txn().succeeded());
  EXPECT_EQ(result.txn().responses(1).put().prev_kv().value(), "20");
  EXPECT_EQ(range("balance").kvs(0).value(), "30");
  EXPECT_EQ(range("balance").kvs(0).version(), 3u);
  EXPECT_EQ(range("balance").kvs(0).mod_revision(), 3u) << "both puts at the transaction's revision";

  result = run(command);  // the version is 3 now: the failure branch
  EXPECT_FALSE(result.txn().succeeded());
  EXPECT_EQ(range("conflicts").kvs_size(), 1);
  EXPECT_EQ(range("balance").kvs(0).value(), "30");
}

TEST_F(KvCommands, CompareTargetsAndResults) {
  put("k", "m");
  auto holds = [&](api::Compare::Target target, api::Compare::Result result, const std::string& value,
                   std::uint64_t number) {
    pb::Command command;
    api::Compare* compare = command.mutable_txn()->add_compare();
    compare->set_key("k");
    compare->set_target(target);
    compare->set_result(result);
    compare->set_value(value);
    compare->set_number(number);
    return run(command).txn().succeeded();
  };
  EXPECT_TRUE(holds(api::Compare::VALUE, api::Compare::EQUAL, "m", 0));
  EXPECT_TRUE(holds(api::Compare::VALUE, api::Compare::GREATER, "a", 0));
  EXPECT_TRUE(holds(api::Compare::VALUE, api::Compare::LESS, "z", 0));
  EXPECT_TRUE(holds(api::Compare::VALUE, api::Compare::NOT_EQUAL, "x", 0));
  EXPECT_TRUE(holds(api::Compare::CREATE_REVISION, api::Compare::EQUAL, "", 1));
  EXPECT_TRUE(holds(api::Compare::MOD_REVISION, api::Compare::LESS, "", 2));
  EXPECT_FALSE(holds(api::Compare::VERSION, api::Compare::GREATER, "", 1));
  pb::Command missing;
  api::Compare* compare = missing.mutable_txn()->add_compare();
  compare->set_key("absent");
  compare->set_target(api::Compare::VERSION);
  compare->set_number(0);
  EXPECT_TRUE(run(missing).txn().succeeded()) << "a missing key has version 0";
}

TEST_F(KvCommands, InvalidCommandsChangeNothingAndSayWhy) {
  EXPECT_EQ(put("", "v").error(), "the key is empty");
  EXPECT_NE(put(std::string(Store::kMaxKeyBytes + 1, 'k'), "v").error().find("over the limit"),
            std::string::npos);
  EXPECT_NE(put("k", std::string(Store::kMaxValueBytes + 1, 'v')).error().find("over the limit"),
            std::string::npos);
  pb::Command txn;
  txn.mutable_txn()->add_success()->mutable_put()->set_key("fine");
  txn.mutable_txn()->add_success()->mutable_put()->set_key("");
  EXPECT_EQ(run(txn).error(), "the key is empty");
  EXPECT_EQ(range("fine").kvs_size(), 0) << "nothing of a refused transaction applies";
  EXPECT_EQ(store_->applied_index(), 4u) << "refused commands still count as applied";
}

TEST_F(KvCommands, ARetriedWriteIsAnsweredButAppliedOnlyOnce) {
  const pb::CommandResult first = put("counter", "1", /*client=*/42, /*sequence=*/1);
  const pb::CommandResult retry = put("counter", "1", 42, 1);
  EXPECT_EQ(retry.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(range("counter").kvs(0).version(), 1u) << "the retry did not apply";
  put("counter", "2", 42, 2);
  EXPECT_EQ(range("counter").kvs(0).version(), 2u);
  EXPECT_NE(put("counter", "old", 42, 1).error().find("already at sequence 2"), std::string::npos);
  EXPECT_EQ(range("counter").kvs(0).value(), "2");
  put("counter", "3", 43, 1);  // another client
  EXPECT_EQ(range("counter").kvs(0).version(), 3u);
}

TEST_F(KvCommands, SessionsExpireAfterAnHourOfClusterTimeOnEveryReplicaAlike) {
  put("k", "v", 7, 1, /*time=*/1'000'000);
  put("k", "w", 8, 1, 1'000'000 + Store::kSessionTimeoutMs / 2);
  EXPECT_EQ(store_->sessions(), 2u);
  put("k", "x", 0, 0, 1'000'000 + Store::kSessionTimeoutMs + 1);  // client 7 idle for over an hour
  EXPECT_EQ(store_->sessions(), 1u);
  // A leader with a clock behind does not turn time back.
  put("k", "y", 0, 0, 5);
  EXPECT_EQ(store_->sessions(), 1u);
  // After expiry a retry applies again (the client took too long).
  put("k", "z", 7, 1, 1'000'000 + Store::kSessionTimeoutMs + 2);
  EXPECT_EQ(range("k").kvs(0).value(), "z");
}

TEST_F(KvCommands, SessionsSurviveARestartAndTravelInSnapshots) {
  put("k", "v", 42, 5);
  store_.reset();
  store_ = Store::open(directory_.sub("kv")).value();
  EXPECT_EQ(store_->sessions(), 1u);
  EXPECT_EQ(put("k", "again", 42, 5).put().header().revision(), 1u) << "the first answer, replayed";

  raft::testing::MemorySnapshot snapshot;
  ASSERT_TRUE(store_->view()->write(snapshot).ok());
  auto other = Store::open(directory_.sub("other")).value();
  ASSERT_TRUE(other->restore(store_->applied_index(), snapshot).ok());
  EXPECT_EQ(other->sessions(), 1u);
  pb::Command retry;
  retry.mutable_put()->set_key("k");
  retry.mutable_put()->set_value("again");
  retry.mutable_put()->mutable_session()->set_client_id(42);
  retry.mutable_put()->mutable_session()->set_sequence(5);
  ASSERT_TRUE(other->apply(store_->applied_index() + 1, retry.SerializeAsString()).ok());
  EXPECT_EQ(other->get("k").value()->version(), 1u) << "the restored store knows the session";
}

}  // namespace
}  // namespace kv
