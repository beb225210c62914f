#pragma once
// The KV gRPC service (proto/kv.proto) of one member: requests become Raft
// proposals or reads of the local kv::Store.
//
// - Writes (Put, Delete, Txn) are proposed through raft::Server and
//   answered once applied here. A follower forwards them to the leader's
//   client address, with the caller's remaining deadline.
// - Reads are linearizable by default: raft::Server::read_index() confirms
//   the read point with the leader (a follower asks the leader, §6.4) and
//   waits until this member has applied it; serializable reads answer from
//   the local store at once.
// - Errors: INVALID_ARGUMENT for an empty or oversized key or value (the
//   request never reaches Raft), UNAVAILABLE naming the leader's address
//   when there is no leader or forwarding fails, DEADLINE_EXCEEDED when the
//   outcome is unknown at the deadline, FAILED_PRECONDITION for a
//   transaction whose compares failed and that has no failure branch,
//   RESOURCE_EXHAUSTED when too many requests are in flight.
// - A write refused with UNAVAILABLE is certainly not applied only when the
//   answer carries the trailer kNotAppliedTrailer: the member refused it
//   before proposing, or its entry lost to another leader's. Without it
//   (a connection that broke, a member stopping, a forward that failed on
//   the way) the outcome is unknown, like DEADLINE_EXCEEDED's.

#include <grpcpp/security/credentials.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "kvstore/api_metadata.h"
#include "kvstore/deadline_timer.h"
#include "kvstore/store.h"
#include "proto/kv.grpc.pb.h"
#include "raft/server.h"

namespace kv {

struct KvServiceOptions {
  std::uint64_t cluster_id = 0;
  raft::NodeId member_id = raft::kNoNode;
  // Every member's client address ("host:port"), for forwarding and for
  // telling clients where the leader is.
  std::map<raft::NodeId, std::string> client_addresses;
  // Used when the caller set no deadline.
  std::chrono::milliseconds default_timeout{5000};
  // A request that arrives while no leader is known waits this long (within
  // its deadline) for an election to end before it is UNAVAILABLE; about
  // one maximum election timeout, so a member cut off from a majority
  // still sends clients elsewhere quickly.
  std::chrono::milliseconds leader_wait{1000};
  std::size_t max_in_flight = 10'000;
  // How this member dials the others' client endpoints to forward a request
  // (TLS with its own certificate when clients use TLS); null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> forward_credentials;
};

// Every method is served with gRPC's callback API: no thread waits for an
// entry to commit or a read point to be applied (with the synchronous API
// every call in flight held one, and gRPC made and ended threads all the
// time under load). A linearizable read of one key is answered on the
// apply thread right after it applied the read point; a range scan on a
// thread of its own. Methods take raw bytes and parse them here, so that
// bytes that are no request get INVALID_ARGUMENT with a message (gRPC's own
// answer for a callback method is UNIMPLEMENTED, without one).
class KvService final
    : public raftkv::api::KV::WithRawCallbackMethod_Put<
          raftkv::api::KV::WithRawCallbackMethod_Range<raftkv::api::KV::WithRawCallbackMethod_Delete<
              raftkv::api::KV::WithRawCallbackMethod_Txn<raftkv::api::KV::Service>>>> {
 public:
  KvService(KvServiceOptions options, raft::Server& server, Store& store);
  ~KvService() override;

  // Replaces the members' client addresses (they may be learned only once
  // every member listens, or change with discovery).
  void set_client_addresses(std::map<raft::NodeId, std::string> addresses);

  // Calls admitted and not answered yet: what max_in_flight limits.
  std::size_t in_flight() const { return in_flight_.load(); }

  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Range(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* Txn(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                grpc::ByteBuffer* response) override;

 private:
  class Forwarder;
  class Call;
  struct InFlight;
  // Answers `call` UNAVAILABLE (not applied) when this member was removed
  // from the cluster; whether it did.
  bool refused_as_removed(Call& call);
  // Counts a call in flight, or refuses it: RESOURCE_EXHAUSTED when the
  // member has too many, UNAVAILABLE when it was removed. A counted call is
  // released by an InFlight.
  bool admit(Call& call);
  void release_in_flight();

  // Checks, forwards (on a follower) or proposes a write, and answers it
  // when that is done or its deadline passes. `forward` starts the call to
  // the leader, `take` picks the response out of the applied result,
  // `check` gives the status of an applied one.
  template <typename Request, typename Response, typename Forward, typename Take, typename Check>
  grpc::ServerUnaryReactor* handle_write(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request, grpc::ByteBuffer* response,
                                         Forward forward, Take take, Check check);
  // Calls `then` with this member's status once it knows a leader, or at
  // `until` if it still knows none (mid-election), without blocking.
  void when_leader_known(std::chrono::system_clock::time_point until,
                         std::function<void(const raft::ServerStatus&)> then);
  grpc::Status unavailable(const std::string& why) const;
  void fill(raftkv::api::ResponseHeader& header, raft::Index revision) const;
  std::chrono::system_clock::time_point deadline_of(const grpc::ServerContextBase* context) const;

  std::string client_address(raft::NodeId member) const;

  const KvServiceOptions options_;
  mutable std::mutex addresses_mutex_;
  std::map<raft::NodeId, std::string> client_addresses_;
  raft::Server& server_;
  Store& store_;
  std::unique_ptr<Forwarder> forwarder_;
  std::atomic<std::size_t> in_flight_{0};
  std::mutex in_flight_mutex_;  // for in_flight_done_
  std::condition_variable in_flight_done_;
  // Last: destroyed first, answering what still waits on them while the
  // rest of the service is intact.
  DeadlineTimer timer_;
  // Linearizable range scans run here, one at a time, once their read point
  // is applied: on the apply thread a long scan would hold up every write.
  // (A DeadlineTimer as a one-thread queue: each function is due at once.)
  DeadlineTimer scans_;
};

}  // namespace kv
