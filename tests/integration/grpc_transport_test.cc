// GrpcTransport on loopback with real gRPC: one long-lived stream per peer
// pair, in order; a busy port refused; reconnection after a peer restarts,
// losing no message on the dead stream; no thread per peer; refusal of another
// cluster's, a non-member's and an oversized message; a clean stop; mutual
// TLS, refusing peers without a certificate the cluster CA signed or without
// an allowed name; and raft::Servers replicating (snapshots included) over it.

#include "raft/grpc_transport.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "raft/in_memory_snapshot_store.h"
#include "raft/in_memory_storage.h"
#include "raft/server.h"
#include "raft/static_discovery.h"
#include "raft/tls_credentials.h"
#include "tests/integration/free_port.h"
#include "tests/integration/test_certificates.h"
#include "tests/unit/eventually.h"
#include "tests/unit/recording_state_machine.h"
#include "tests/unit/temporary_directory.h"

namespace raft {
namespace {

using namespace std::chrono_literals;

using testing::eventually;

// Collects what a transport delivers.
class Inbox {
 public:
  Transport::Receiver receiver() {
    return [this](pb::Message message) {
      std::lock_guard lock(mutex_);
      messages_.push_back(std::move(message));
    };
  }
  std::vector<pb::Message> messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return messages_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<pb::Message> messages_;
};

GrpcTransportOptions options_for(std::uint64_t cluster, const std::string& address) {
  GrpcTransportOptions options;
  options.cluster_id = cluster;
  options.listen_address = address;
  options.min_backoff = 20ms;
  options.max_backoff = 200ms;
  return options;
}

std::unique_ptr<GrpcTransport> listening(std::uint64_t cluster, const std::string& address = "127.0.0.1:0",
                                         std::size_t queue = 4096) {
  GrpcTransportOptions options = options_for(cluster, address);
  options.max_queued_messages = queue;
  auto transport = std::make_unique<GrpcTransport>(options);
  const Status listened = transport->listen();
  EXPECT_TRUE(listened.ok()) << listened.error().to_string();
  return transport;
}

std::string address_of(const GrpcTransport& transport) {
  return "127.0.0.1:" + std::to_string(transport.listening_port());
}

// Two started members of cluster 7: node 1 sends, node 2 hands what
// arrives to `receiver`.
struct Pair {
  std::unique_ptr<GrpcTransport> sender;
  std::unique_ptr<GrpcTransport> receiver;
};
Pair connected_pair(Transport::Receiver receiver, std::size_t sender_queue = 4096) {
  Pair pair{listening(7, "127.0.0.1:0", sender_queue), listening(7)};
  const std::vector<Peer> peers = {{1, address_of(*pair.sender)}, {2, address_of(*pair.receiver)}};
  pair.sender->set_peers(peers);
  pair.receiver->set_peers(peers);
  pair.sender->start(1, [](pb::Message) {});
  pair.receiver->start(2, std::move(receiver));
  return pair;
}

pb::Message message(NodeId from, NodeId to, Term term) {
  pb::Message result;
  result.set_from(from);
  result.set_to(to);
  result.set_term(term);
  result.mutable_append_entries()->set_prev_log_index(term);
  return result;
}

TEST(GrpcTransport, TenThousandMessagesArriveInOrderOverOneStream) {
  // A queue that holds them all: this test is about order, not overflow.
  Inbox inbox;
  auto [a, b] = connected_pair(inbox.receiver(), 20000);
  for (Term term = 1; term <= 10000; ++term) a->send(message(1, 2, term));
  ASSERT_TRUE(eventually([&] { return inbox.size() == 10000; })) << inbox.size();
  const auto received = inbox.messages();
  for (std::size_t i = 0; i < received.size(); ++i) ASSERT_EQ(received[i].term(), i + 1);
  EXPECT_EQ(received.front().cluster_id(), 7u);
  EXPECT_EQ(b->counters().incoming_streams, 1u) << "one stream for all of them";
  // The sender counts a message once its write returns, which may be just
  // after the receiver has it.
  EXPECT_TRUE(eventually([&] { return a->counters().sent == 10000u; })) << a->counters().sent;
}

TEST(GrpcTransport, ABusyPortIsAnErrorNotASharedListener) {
  // gRPC's default SO_REUSEPORT would let a second node take half of the
  // first one's connections without a word.
  auto first = listening(7);
  GrpcTransport second(options_for(7, address_of(*first)));
  const Status listened = second.listen();
  ASSERT_FALSE(listened.ok());
  EXPECT_NE(listened.error().message.find("busy"), std::string::npos) << listened.error().message;
}

// Node 1 (`a`) with a stream open to node 2 (`b`), proved by one message
// delivered: the start of the tests in which b goes away and comes back on
// the same address.
struct StreamToPeer {
  Inbox first;  // what b received (declared first: it outlives b)
  std::unique_ptr<GrpcTransport> a = listening(7);
  std::unique_ptr<GrpcTransport> b = listening(7);
  const std::string b_address = address_of(*b);
  const std::vector<Peer> peers = {{1, address_of(*a)}, {2, b_address}};

  // Starts both and sends one message from a to b; whether b received it.
  bool open() {
    a->set_peers(peers);
    a->start(1, [](pb::Message) {});
    b->set_peers(peers);
    b->start(2, first.receiver());
    a->send(message(1, 2, 1));
    return eventually([&] { return first.size() == 1; });
  }

  // Node 2 again, on b's address, delivering into `inbox`.
  std::unique_ptr<GrpcTransport> restart_b(Inbox& inbox) const {
    auto again = listening(7, b_address);
    again->set_peers(peers);
    again->start(2, inbox.receiver());
    return again;
  }
};

TEST(GrpcTransport, ASenderReconnectsWhenItsPeerComesBack) {
  StreamToPeer stream;
  ASSERT_TRUE(stream.open());
  auto& a = stream.a;

  stream.b.reset();  // the peer goes away; what is sent meanwhile may be lost
  for (Term term = 2; term <= 5; ++term) a->send(message(1, 2, term));
  // The sender notices its stream ended before the peer comes back.
  ASSERT_TRUE(eventually([&] {
    a->send(message(1, 2, 6));
    return a->counters().reconnects >= 1;
  }));
  Inbox second;
  auto again = stream.restart_b(second);
  // Keep sending until the new stream carries messages (Raft would resend).
  ASSERT_TRUE(eventually([&] {
    a->send(message(1, 2, 100));
    return second.size() > 0;
  }));
  EXPECT_GE(a->counters().reconnects, 1u);
}

TEST(GrpcTransport, TheFirstMessageToARestartedPeerIsNotLostOnTheOldStream) {
  // A peer restarts on the same address while this node's stream to it
  // still looks open: the first message after the restart (a vote answer,
  // say) must reach the new process, sent once. (The write that fails on
  // the dead stream is sent again on the next one.)
  StreamToPeer stream;
  ASSERT_TRUE(stream.open());

  stream.b.reset();
  Inbox second;
  auto again = stream.restart_b(second);
  stream.a->send(message(1, 2, 2));
  ASSERT_TRUE(eventually([&] { return second.size() == 1; })) << "the message was lost";
  EXPECT_EQ(second.messages().front().term(), 2u);
}

// The threads of this process, from the kernel's count.
int thread_count() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

TEST(GrpcTransport, PeersCostNoThreadsOfTheirOwn) {
  // Forty peers, every one unreachable (so each stream also goes through
  // failed connections and back-off), and messages for all of them: the
  // process gains no thread per peer, only gRPC's shared ones.
  std::mutex mutex;
  std::set<NodeId> unreachable;
  GrpcTransportOptions options = options_for(7, "127.0.0.1:0");
  options.on_unreachable = [&](NodeId id) {
    std::lock_guard lock(mutex);
    unreachable.insert(id);
  };
  GrpcTransport a(options);
  ASSERT_TRUE(a.listen().ok());
  auto b = listening(7);
  Inbox inbox;
  std::vector<Peer> peers = {{1, address_of(a)}, {2, address_of(*b)}};
  a.set_peers(peers);
  b->set_peers(peers);
  a.start(1, [](pb::Message) {});
  b->start(2, inbox.receiver());
  a.send(message(1, 2, 1));
  ASSERT_TRUE(eventually([&] { return inbox.size() == 1; }));
  const int before = thread_count();

  for (NodeId id = 3; id < 43; ++id)
    peers.push_back({id, "127.0.0.1:" + std::to_string(testing::free_port())});
  a.set_peers(peers);
  // Until every one of the forty has been found unreachable.
  ASSERT_TRUE(eventually([&] {
    for (NodeId id = 3; id < 43; ++id) a.send(message(1, id, 2));
    std::lock_guard lock(mutex);
    return unreachable.size() == 40;
  })) << unreachable.size();
  const int after = thread_count();
  EXPECT_LT(after - before, 10) << before << " threads before the forty peers, " << after << " after";
  std::cout << "threads: " << before << " with one peer, " << after << " with forty-one\n";
  a.stop();  // before `unreachable` goes
}

TEST(GrpcTransport, AnotherClustersMessagesAreRefused) {
  auto b = listening(7);
  auto stranger = listening(8);  // same ids, another cluster
  const std::vector<Peer> peers = {{1, address_of(*stranger)}, {2, address_of(*b)}};
  Inbox inbox;
  b->set_peers(peers);
  b->start(2, inbox.receiver());
  stranger->set_peers(peers);
  stranger->start(1, [](pb::Message) {});
  ASSERT_TRUE(eventually([&] {
    stranger->send(message(1, 2, 1));
    return b->counters().refused > 0;
  }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(inbox.size(), 0u);
}

TEST(GrpcTransport, AMessageFromANonMemberIsRefused) {
  auto b = listening(7);
  auto outsider = listening(7);
  Inbox inbox;
  b->set_peers({{1, "127.0.0.1:1"}, {2, address_of(*b)}});  // members 1 and 2
  b->start(2, inbox.receiver());
  outsider->set_peers({{9, address_of(*outsider)}, {2, address_of(*b)}});
  outsider->start(9, [](pb::Message) {});
  ASSERT_TRUE(eventually([&] {
    outsider->send(message(9, 2, 1));
    return b->counters().refused > 0;
  }));
  EXPECT_EQ(inbox.size(), 0u);
}

// A removed node never hears from the leader again; the members it calls
// tell it instead, and its transport hands that to its core as an answer
// from that member (Transport::set_removed).
TEST(GrpcTransport, ARemovedNodeThatCallsIsToldSo) {
  auto member = listening(7);
  auto removed = listening(7);
  Inbox member_inbox, removed_inbox;
  member->set_peers({{2, address_of(*member)}});
  member->set_removed({9});
  member->start(2, member_inbox.receiver());
  removed->set_peers({{9, address_of(*removed)}, {2, address_of(*member)}});
  removed->start(9, removed_inbox.receiver());
  ASSERT_TRUE(eventually([&] {
    removed->send(message(9, 2, 1));
    return removed_inbox.size() > 0;
  }));
  const pb::Message told = removed_inbox.messages().front();
  EXPECT_EQ(told.from(), 2u);
  EXPECT_EQ(told.to(), 9u);
  EXPECT_TRUE(told.request_vote_response().requester_removed());
  EXPECT_EQ(member_inbox.size(), 0u) << "nothing from a removed node reaches the core";
}

TEST(GrpcTransport, AnOversizedMessageIsDroppedAndTheStreamCarriesOn) {
  Inbox inbox;
  auto [a, b] = connected_pair(inbox.receiver());
  pb::Message huge = message(1, 2, 1);
  huge.mutable_append_entries()->add_entries()->set_data(std::string(17 << 20, 'x'));
  a->send(huge);
  a->send(message(1, 2, 2));
  ASSERT_TRUE(eventually([&] { return inbox.size() == 1; }));
  EXPECT_EQ(inbox.messages().front().term(), 2u);
  EXPECT_EQ(a->counters().dropped, 1u);
}

TEST(GrpcTransport, AfterStopTheReceiverIsNeverCalled) {
  std::atomic<bool> stopped{false};
  std::atomic<int> delivered{0};
  std::atomic<int> late{0};
  auto [a, b] = connected_pair([&](pb::Message) {
    ++delivered;
    late += stopped ? 1 : 0;
  });
  std::thread sender([&] {
    for (Term term = 1; term <= 20000; ++term) a->send(message(1, 2, term));
  });
  // Stop while messages are flowing.
  EXPECT_TRUE(eventually([&] { return delivered > 0; }));  // (not ASSERT: the sender must be joined)
  b->stop();
  stopped = true;
  sender.join();
  a->stop();
  EXPECT_EQ(late, 0);
}

// Node 2 receives, node 1 sends, each with its own TLS set-up; made by
// make-certs.sh for two CAs: the cluster's and a stranger's.
class TlsTransport : public ::testing::Test {
 protected:
  static TlsMaterial material(const std::string& cert, const std::string& key, const std::string& ca) {
    auto loaded = load_tls_material({cert, key, ca}, "peer TLS", ChainCheck::kNone);
    EXPECT_TRUE(loaded.ok()) << loaded.error().to_string();
    return loaded.ok() ? loaded.value() : TlsMaterial{};
  }
  TlsMaterial member(int id) const {
    return material(cluster_.member_cert(id), cluster_.member_key(id), cluster_.ca());
  }

  // Starts the pair; the sender (if it has material) and receiver use TLS.
  void start(const std::optional<TlsMaterial>& sender, const TlsMaterial& receiver,
             std::set<std::string> allowed_names = {}) {
    GrpcTransportOptions receiver_options = options_for(7, "127.0.0.1:0");
    receiver_options.server_credentials = tls_server_credentials(receiver, ClientCertificates::kRequired);
    receiver_options.channel_credentials = tls_channel_credentials(receiver);
    receiver_options.allowed_peer_names = std::move(allowed_names);
    receiver_ = std::make_unique<GrpcTransport>(receiver_options);
    GrpcTransportOptions sender_options = options_for(7, "127.0.0.1:0");
    if (sender) {
      // Its own listener only needs to work: plaintext when it has no certificate.
      if (!sender->cert_pem.empty())
        sender_options.server_credentials = tls_server_credentials(*sender, ClientCertificates::kRequired);
      sender_options.channel_credentials = tls_channel_credentials(*sender);
    }
    sender_options.on_unreachable = [this](NodeId) { ++unreachable_; };
    sender_ = std::make_unique<GrpcTransport>(sender_options);
    ASSERT_TRUE(receiver_->listen().ok());
    ASSERT_TRUE(sender_->listen().ok());
    const std::vector<Peer> peers = {{1, address_of(*sender_)}, {2, address_of(*receiver_)}};
    sender_->set_peers(peers);
    receiver_->set_peers(peers);
    sender_->start(1, [](pb::Message) {});
    receiver_->start(2, inbox_.receiver());
  }

  // Sends until the sender has failed to get through a few times; true if
  // it did (then nothing may have arrived).
  bool sender_keeps_failing() {
    return eventually([&] {
      sender_->send(message(1, 2, 1));
      return unreachable_ + sender_->counters().reconnects >= 3;
    });
  }

  testing::TemporaryDirectory scratch_;
  testing::TestCertificates cluster_ = testing::make_test_certificates(scratch_.sub("cluster"), 3);
  testing::TestCertificates stranger_ = testing::make_test_certificates(scratch_.sub("stranger"), 3);
  Inbox inbox_;
  std::atomic<int> unreachable_{0};
  std::unique_ptr<GrpcTransport> sender_;
  std::unique_ptr<GrpcTransport> receiver_;
};

TEST_F(TlsTransport, MembersWithCertificatesOfTheClusterCaTalkMutualTls) {
  start(member(1), member(2), {"member-1", "member-3"});
  for (Term term = 1; term <= 100; ++term) sender_->send(message(1, 2, term));
  ASSERT_TRUE(eventually([&] { return inbox_.size() == 100; })) << inbox_.size();
  EXPECT_EQ(receiver_->counters().refused, 0u);
}

TEST_F(TlsTransport, APeerWithACertificateAnotherCaSignedIsRefused) {
  // It trusts the cluster CA (so it accepts the receiver) but presents a
  // stranger's certificate: the receiver's handshake refuses it.
  start(material(stranger_.member_cert(1), stranger_.member_key(1), cluster_.ca()), member(2));
  ASSERT_TRUE(sender_keeps_failing());
  EXPECT_EQ(inbox_.size(), 0u);
  EXPECT_EQ(receiver_->counters().incoming_streams, 0u) << "refused in the handshake, before any stream";
}

TEST_F(TlsTransport, APeerWithoutACertificateIsRefused) {
  start(material("", "", cluster_.ca()), member(2));
  ASSERT_TRUE(sender_keeps_failing());
  EXPECT_EQ(inbox_.size(), 0u);
  EXPECT_EQ(receiver_->counters().incoming_streams, 0u);
}

TEST_F(TlsTransport, APlaintextPeerIsRefused) {
  start(std::nullopt, member(2));
  ASSERT_TRUE(sender_keeps_failing());
  EXPECT_EQ(inbox_.size(), 0u);
  EXPECT_EQ(receiver_->counters().incoming_streams, 0u);
}

TEST_F(TlsTransport, APeerWhoseCertificateHasNoAllowedNameIsRefused) {
  start(member(1), member(2), {"member-2", "member-3"});
  ASSERT_TRUE(eventually([&] {
    sender_->send(message(1, 2, 1));
    return receiver_->counters().refused > 0;
  }));
  EXPECT_EQ(inbox_.size(), 0u);
}

TEST_F(TlsTransport, ASenderThatCannotVerifyTheReceiverDoesNotTalkToIt) {
  // The receiver's certificate comes from a CA the sender does not trust
  // (someone else listening at a member's address).
  start(member(1), material(stranger_.member_cert(2), stranger_.member_key(2), stranger_.ca()));
  ASSERT_TRUE(sender_keeps_failing());
  EXPECT_EQ(inbox_.size(), 0u);
}

TEST(GrpcTransport, RaftServersReplicateAndSendSnapshotsOverIt) {
  std::map<NodeId, std::unique_ptr<GrpcTransport>> listeners;
  std::vector<Peer> peers;
  for (NodeId id = 1; id <= 3; ++id) {
    listeners[id] = listening(42);
    peers.push_back({id, address_of(*listeners[id])});
  }
  auto discovery = std::make_shared<StaticDiscovery>(peers);
  std::map<NodeId, std::shared_ptr<testing::RecordingStateMachine>> machines;
  std::map<NodeId, std::unique_ptr<Server>> servers;
  auto start = [&](NodeId id, std::shared_ptr<GrpcTransport> transport) {
    ServerOptions options;
    options.core.id = id;
    options.core.random_seed = id;
    options.core.max_snapshot_chunk_bytes = 4096;
    options.tick_interval = 10ms;
    options.snapshot_entries = 200;
    options.compaction_margin = 20;
    machines[id] = std::make_shared<testing::RecordingStateMachine>();
    servers[id] = std::make_unique<Server>(options, std::make_shared<InMemoryStorage>(),
                                           std::make_shared<InMemorySnapshotStore>(), transport, discovery,
                                           machines[id]);
    ASSERT_TRUE(servers[id]->start().ok());
  };
  for (NodeId id = 1; id <= 2; ++id) start(id, std::shared_ptr<GrpcTransport>(std::move(listeners[id])));
  NodeId leader = kNoNode;
  ASSERT_TRUE(eventually([&] {
    for (auto& [id, server] : servers) {
      if (server->status().role == Role::kLeader) leader = id;
    }
    return leader != kNoNode;
  }));
  std::vector<std::future<Result<Applied>>> futures;
  for (int i = 0; i < 2000; ++i) futures.push_back(servers[leader]->propose("command-" + std::to_string(i)));
  for (auto& future : futures) ASSERT_TRUE(future.get().ok());
  ASSERT_TRUE(eventually([&] { return servers[leader]->status().first_log_index > 1000; }));

  // Node 3 joins late with nothing: it gets the snapshot, over gRPC.
  start(3, std::shared_ptr<GrpcTransport>(std::move(listeners[3])));
  ASSERT_TRUE(eventually([&] { return machines[3]->commands() == machines[leader]->commands(); }));
  EXPECT_EQ(machines[3]->commands().size(), 2000u);
  for (auto& [id, server] : servers) server->stop();
}

}  // namespace
}  // namespace raft
