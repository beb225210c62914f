#include "kvstore/kv_service.h"

#include <grpcpp/grpcpp.h>

#include <functional>

#include "kvstore/leader_routing.h"
#include "raft/grpc_raw_message.h"

namespace kv {

namespace api = raftkv::api;
using Clock = std::chrono::system_clock;

namespace {

grpc::Status invalid(const std::string& why) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why);
}

// A raw callback method's request bytes, parsed; false when they are not a
// `Message`. gRPC's buffer is const: read a copy (it shares the slices).
bool parse(const grpc::ByteBuffer& request_bytes, google::protobuf::MessageLite& message) {
  grpc::ByteBuffer bytes(request_bytes);
  return raft::parse_raw_message(bytes, message);
}

// The request as a command, for checking and proposing.
pb::Command command_of(const api::PutRequest& request) {
  pb::Command command;
  *command.mutable_put() = request;
  return command;
}
pb::Command command_of(const api::DeleteRequest& request) {
  pb::Command command;
  *command.mutable_delete_() = request;
  return command;
}
pb::Command command_of(const api::TxnRequest& request) {
  pb::Command command;
  *command.mutable_txn() = request;
  return command;
}

}  // namespace

// Connections to the other members' client ports, made on first use.
class KvService::Forwarder {
 public:
  explicit Forwarder(std::shared_ptr<grpc::ChannelCredentials> credentials)
      : credentials_(credentials != nullptr ? std::move(credentials) : grpc::InsecureChannelCredentials()) {}

  api::KV::Stub& stub(const std::string& address) {
    std::lock_guard lock(mutex_);
    std::unique_ptr<api::KV::Stub>& stub = stubs_[address];
    if (!stub) stub = api::KV::NewStub(grpc::CreateChannel(address, credentials_));
    return *stub;
  }

 private:
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::mutex mutex_;
  std::map<std::string, std::unique_ptr<api::KV::Stub>> stubs_;
};

KvService::KvService(KvServiceOptions options, raft::Server& server, Store& store)
    : options_(std::move(options)),
      client_addresses_(options_.client_addresses),
      server_(server),
      store_(store),
      forwarder_(std::make_unique<Forwarder>(options_.forward_credentials)) {}

void KvService::set_client_addresses(std::map<raft::NodeId, std::string> addresses) {
  std::lock_guard lock(addresses_mutex_);
  client_addresses_ = std::move(addresses);
}

std::string KvService::client_address(raft::NodeId member) const {
  {
    std::lock_guard lock(addresses_mutex_);
    auto found = client_addresses_.find(member);
    if (found != client_addresses_.end()) return found->second;
  }
  return configured_client_address(server_, member);
}

// Ends the in-flight count of one write when it goes out of scope: after
// everything else the callback does with the service.
struct KvService::InFlight {
  explicit InFlight(KvService& owner) : service(owner) {}
  ~InFlight() { service.release_in_flight(); }
  KvService& service;
};

void KvService::release_in_flight() {
  std::lock_guard lock(in_flight_mutex_);
  if (--in_flight_ == 0) in_flight_done_.notify_all();
}

KvService::~KvService() {
  // Forwarded calls and proposals answer through callbacks into this
  // service; wait for the last (each within its deadline, at most
  // default_timeout away, or the server's stop for proposals).
  std::unique_lock lock(in_flight_mutex_);
  in_flight_done_.wait_for(lock, options_.default_timeout + std::chrono::seconds(1),
                           [&] { return in_flight_ == 0; });
}

Clock::time_point KvService::deadline_of(const grpc::ServerContextBase* context) const {
  const Clock::time_point fallback = Clock::now() + options_.default_timeout;
  return std::min(context->deadline(), fallback);
}

grpc::Status KvService::unavailable(const std::string& why) const {
  const raft::NodeId leader = server_.status().leader;
  const std::string address = client_address(leader);
  std::string message = why;
  if (leader != raft::kNoNode && !address.empty()) {
    message += "; the leader is member " + std::to_string(leader) + " at " + address;
  } else {
    message += "; no leader is known (an election may be under way), retry shortly";
  }
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, message);
}

void KvService::fill(api::ResponseHeader& header, raft::Index revision) const {
  header.set_cluster_id(options_.cluster_id);
  header.set_member_id(options_.member_id);
  header.set_term(server_.status().term);
  header.set_revision(revision);
}

// One call in progress. Exactly one of its possible ends answers it: the
// entry applied (or failed), the read point was reached, the leader answered
// a forwarded call, or the deadline passed first. Whatever comes later finds
// it finished and leaves the response alone (gRPC may have freed it by then).
class KvService::Call {
 public:
  explicit Call(grpc::CallbackServerContext* context)
      : context_(context), reactor_(context->DefaultReactor()) {}

  grpc::ServerUnaryReactor* reactor() const { return reactor_; }
  bool finished() const {
    std::lock_guard lock(mutex_);
    return finished_;
  }

  // Answers the call with DEADLINE_EXCEEDED and `why` at `deadline` unless
  // something answers it first (which then drops the timer's entry).
  void answer_by(DeadlineTimer& timer, Clock::time_point deadline, const std::shared_ptr<Call>& self,
                 std::string why) {
    timer_ = &timer;
    deadline_ = timer.at(deadline, [weak = std::weak_ptr<Call>(self), why = std::move(why)] {
      if (auto call = weak.lock())
        call->answer(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, why), {}, false);
    });
  }

  // Answers with `status` unless already answered; `fill` first writes the
  // response (it runs only if this call is the one that answers).
  void finish(const grpc::Status& status, const std::function<void()>& fill = {}, bool not_applied = false) {
    if (answer(status, fill, not_applied) && timer_ != nullptr) timer_->cancel(deadline_);
  }

 private:
  bool answer(const grpc::Status& status, const std::function<void()>& fill, bool not_applied) {
    std::lock_guard lock(mutex_);
    if (finished_) return false;
    finished_ = true;
    if (fill) fill();
    if (not_applied) context_->AddTrailingMetadata(kNotAppliedTrailer, "1");
    reactor_->Finish(status);
    return true;
  }

  grpc::CallbackServerContext* const context_;
  grpc::ServerUnaryReactor* const reactor_;
  DeadlineTimer* timer_ = nullptr;
  DeadlineTimer::Entry deadline_;
  mutable std::mutex mutex_;
  bool finished_ = false;
};

bool KvService::refused_as_removed(Call& call) {
  if (!server_.removed()) return false;
  // UNAVAILABLE and certainly not applied: a client moves on to another
  // member, as it would from one that is down. Serializable reads too: a
  // removed member hears no more of the log, so its state only ages.
  call.finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                           "member " + std::to_string(options_.member_id) +
                               " was removed from the cluster and serves no more; use the other members"),
              {}, /*not_applied=*/true);
  return true;
}

bool KvService::admit(Call& call) {
  if (refused_as_removed(call)) return false;
  if (in_flight_.fetch_add(1) < options_.max_in_flight) return true;
  release_in_flight();
  call.finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                           "member " + std::to_string(options_.member_id) + " has " +
                               std::to_string(options_.max_in_flight) +
                               " requests in flight; retry with back-off"));
  return false;
}

void KvService::when_leader_known(Clock::time_point until,
                                  std::function<void(const raft::ServerStatus&)> then) {
  const raft::ServerStatus status = server_.status();
  if (status.leader != raft::kNoNode || Clock::now() >= until) {
    then(status);
    return;
  }
  // Mid-election: look again shortly (elections take a few hundred ms).
  timer_.at(std::min(until, Clock::now() + std::chrono::milliseconds(10)),
            [this, until, then = std::move(then)]() mutable { when_leader_known(until, std::move(then)); });
}

namespace {

// What the API says about a write whose proposal failed.
struct Refusal {
  grpc::StatusCode code;
  std::string message;
  bool not_applied = false;
};

Refusal refusal_of(const raft::Error& error) {
  switch (error.code) {
    case raft::ErrorCode::kTimeout: return {grpc::StatusCode::DEADLINE_EXCEEDED, error.message};
    case raft::ErrorCode::kExpired:
      return {grpc::StatusCode::DEADLINE_EXCEEDED, "the write was not applied: " + error.message, true};
    case raft::ErrorCode::kOverloaded:
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, "the write was not applied: " + error.message, true};
    case raft::ErrorCode::kProposalDropped:
      return {grpc::StatusCode::UNAVAILABLE, "the write was lost to a leader change and not applied", true};
    case raft::ErrorCode::kNotLeader:
    case raft::ErrorCode::kLeadershipTransfer:
      return {grpc::StatusCode::UNAVAILABLE, "the write was not proposed: " + error.message, true};
    default: return {grpc::StatusCode::UNAVAILABLE, error.message};
  }
}

}  // namespace

template <typename Request, typename Response, typename Forward, typename Take, typename Check>
grpc::ServerUnaryReactor* KvService::handle_write(grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* request_bytes,
                                                  grpc::ByteBuffer* response_bytes, Forward forward,
                                                  Take take, Check check) {
  auto call = std::make_shared<Call>(context);
  const auto request = std::make_shared<Request>();
  if (!parse(*request_bytes, *request)) {
    call->finish(invalid("the request is not a " + Request::descriptor()->full_name()));
    return call->reactor();
  }
  // Written only by the end that answers the call (Call::finish).
  const auto respond = [response_bytes](const Response& response) {
    raft::serialize_raw_message(response, response_bytes);
  };
  pb::Command command = command_of(*request);
  if (std::string problem = Store::problem_with(command); !problem.empty()) {
    call->finish(invalid(problem));
    return call->reactor();
  }
  if (!admit(*call)) return call->reactor();
  const Clock::time_point deadline = deadline_of(context);
  call->answer_by(
      timer_, deadline, call,
      "the write was not applied before the deadline; its outcome is unknown (it may still apply: "
      "use a session to retry safely)");
  // Read now: the context is not ours to read once the call is answered.
  const bool was_forwarded = forwarded(context);
  when_leader_known(
      std::min(deadline, Clock::now() + options_.leader_wait),
      [=, this, command = std::move(command)](const raft::ServerStatus& member) mutable {
        if (call->finished()) {
          release_in_flight();
          return;
        }
        const std::string leader_address = client_address(member.leader);
        if (member.role != raft::Role::kLeader && member.leader != raft::kNoNode && !leader_address.empty() &&
            !was_forwarded) {
          // A follower hands the write to the leader, with the caller's deadline.
          auto client = std::make_shared<grpc::ClientContext>();
          client->set_deadline(deadline);
          mark_forwarded(*client);
          auto reply = std::make_shared<Response>();
          forward(forwarder_->stub(leader_address), client.get(), request.get(), reply.get(),
                  [this, call, client, reply, request, respond, leader = member.leader,
                   leader_address](grpc::Status status) {
                    const InFlight done(*this);  // released last
                    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) {
                      call->finish(status, [&] {
                        if (status.ok()) respond(*reply);
                      });
                      return;
                    }
                    // Only the leader's own answer, or a forward that never
                    // left this member, says the write did not apply; a
                    // failure on the way leaves it unknown. Say where the
                    // request went: the leader may be gone, or unreachable.
                    const bool not_applied =
                        failed_before_sending(status) ||
                        client->GetServerTrailingMetadata().count(kNotAppliedTrailer) > 0;
                    call->finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                              "forwarded to the leader, member " + std::to_string(leader) +
                                                  " at " + leader_address + ": " + status.error_message()),
                                 {}, not_applied);
                  });
          return;
        }
        // Cluster time for session expiry: this leader's clock, carried in the
        // log (the store never lets it run backwards).
        command.set_cluster_time_ms(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count()));
        server_.propose(
            command.SerializeAsString(),
            [this, call, request, respond, take, check](raft::Result<raft::Applied> applied) {
              const InFlight done(*this);  // released last
              if (!applied.ok()) {
                const Refusal refusal = refusal_of(applied.error());
                // UNAVAILABLE says where the leader is, when known.
                call->finish(refusal.code == grpc::StatusCode::UNAVAILABLE
                                 ? unavailable(refusal.message)
                                 : grpc::Status(refusal.code, refusal.message),
                             {}, refusal.not_applied);
                return;
              }
              pb::CommandResult result;
              if (!result.ParseFromString(applied.value().result)) {
                call->finish(
                    grpc::Status(grpc::StatusCode::INTERNAL, "the state machine's answer is unreadable"));
                return;
              }
              if (!result.error().empty()) {
                call->finish(invalid(result.error()));
                return;
              }
              Response answer = take(result);
              fill(*answer.mutable_header(), answer.header().revision());
              const grpc::Status status = check(*request, answer);
              call->finish(status, [&] {
                if (status.ok()) respond(answer);
              });
            },
            // Not proposed at all once the caller has given up.
            std::chrono::steady_clock::now() + (deadline - Clock::now()));
      });
  return call->reactor();
}

grpc::ServerUnaryReactor* KvService::Put(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return handle_write<api::PutRequest, api::PutResponse>(
      context, request, response,
      [](api::KV::Stub& leader, grpc::ClientContext* client, const api::PutRequest* forwarded,
         api::PutResponse* reply, std::function<void(grpc::Status)> done) {
        leader.async()->Put(client, forwarded, reply, std::move(done));
      },
      [](const pb::CommandResult& result) { return result.put(); },
      [](const api::PutRequest&, const api::PutResponse&) { return grpc::Status::OK; });
}

grpc::ServerUnaryReactor* KvService::Delete(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return handle_write<api::DeleteRequest, api::DeleteResponse>(
      context, request, response,
      [](api::KV::Stub& leader, grpc::ClientContext* client, const api::DeleteRequest* forwarded,
         api::DeleteResponse* reply, std::function<void(grpc::Status)> done) {
        leader.async()->Delete(client, forwarded, reply, std::move(done));
      },
      [](const pb::CommandResult& result) { return result.delete_(); },
      [](const api::DeleteRequest&, const api::DeleteResponse&) { return grpc::Status::OK; });
}

grpc::ServerUnaryReactor* KvService::Txn(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return handle_write<api::TxnRequest, api::TxnResponse>(
      context, request, response,
      [](api::KV::Stub& leader, grpc::ClientContext* client, const api::TxnRequest* forwarded,
         api::TxnResponse* reply, std::function<void(grpc::Status)> done) {
        leader.async()->Txn(client, forwarded, reply, std::move(done));
      },
      [](const pb::CommandResult& result) { return result.txn(); },
      [](const api::TxnRequest& asked, const api::TxnResponse& answer) {
        if (answer.succeeded() || !asked.failure().empty()) return grpc::Status::OK;
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                            "the transaction's compares did not hold (at revision " +
                                std::to_string(answer.header().revision()) + "); nothing was written");
      });
}

grpc::ServerUnaryReactor* KvService::Range(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request_bytes,
                                           grpc::ByteBuffer* response_bytes) {
  auto call = std::make_shared<Call>(context);
  api::RangeRequest request;
  if (!parse(*request_bytes, request)) {
    call->finish(invalid("the request is not a " + api::RangeRequest::descriptor()->full_name()));
    return call->reactor();
  }
  if (request.key().empty()) {
    call->finish(invalid("the key is empty (for every key, use key \"\\0\" and range_end \"\\0\")"));
    return call->reactor();
  }
  if (request.key().size() > Store::kMaxKeyBytes) {
    call->finish(invalid("the key is " + std::to_string(request.key().size()) + " bytes, over the limit of " +
                         std::to_string(Store::kMaxKeyBytes)));
    return call->reactor();
  }
  if (request.limit() < 0) {
    call->finish(invalid("the limit is negative"));
    return call->reactor();
  }
  // Reads the local store and answers; for a linearizable read, once this
  // member has applied the confirmed read point (on the apply thread).
  const auto answer = [this, call, response_bytes](const api::RangeRequest& asked) {
    raft::Result<api::RangeResponse> read = store_.range(asked);
    if (!read.ok()) {
      call->finish(grpc::Status(grpc::StatusCode::INTERNAL, read.error().to_string()));
      return;
    }
    api::RangeResponse response = std::move(read).value();
    fill(*response.mutable_header(), response.header().revision());
    call->finish(grpc::Status::OK, [&] { raft::serialize_raw_message(response, response_bytes); });
  };
  if (request.serializable()) {
    if (refused_as_removed(*call)) return call->reactor();
    // A restarted member's store holds only what it had flushed; the log
    // replays the rest. Until it has, its own state is older than what it
    // may have answered before the crash, and a serializable read must not
    // go back in time on the same member (etcd serves nothing before its
    // replay either).
    const raft::Index recovered = server_.recovered_commit_index();
    if (const raft::Index applied = store_.applied_index(); applied < recovered) {
      call->finish(unavailable("member " + std::to_string(options_.member_id) +
                               " is replaying its log after a restart (applied " + std::to_string(applied) +
                               " of the " + std::to_string(recovered) +
                               " entries it had committed): its own state is older than what it answered "
                               "before"));
      return call->reactor();
    }
    answer(request);
    return call->reactor();
  }
  if (!admit(*call)) return call->reactor();
  const Clock::time_point deadline = deadline_of(context);
  call->answer_by(timer_, deadline, call, "no leader confirmed the read before the deadline");
  // Linearizable (§6.4): the leader confirms a read point, this member
  // applies up to it, then the local store answers.
  when_leader_known(
      std::min(deadline, Clock::now() + options_.leader_wait),
      [this, call, answer, request = std::move(request)](const raft::ServerStatus&) mutable {
        if (call->finished()) {
          release_in_flight();
          return;
        }
        server_.read_index(
            [this, call, answer, request = std::move(request)](raft::Result<raft::Index> confirmed) mutable {
              auto done = std::make_shared<const InFlight>(*this);  // released last
              if (call->finished()) return;
              if (confirmed.ok() && !request.range_end().empty()) {
                // A scan may read many keys: not here on the apply thread,
                // which every write and read of this member waits for.
                scans_.at(Clock::now(), [done, answer, request = std::move(request)] { answer(request); });
              } else if (confirmed.ok()) {
                answer(request);
              } else if (confirmed.error().code == raft::ErrorCode::kTimeout) {
                call->finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, confirmed.error().message));
              } else {
                call->finish(unavailable("a linearizable read needs a leader: " + confirmed.error().message));
              }
            });
      });
  return call->reactor();
}

}  // namespace kv
