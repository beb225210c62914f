#include "raft/grpc_transport.h"

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <optional>
#include <random>
#include <set>

#include "proto/raft.grpc.pb.h"
#include "raft/grpc_raw_message.h"
#include "raft/grpc_status_name.h"
#include "raft/grpc_unknown_method.h"
#include "raft/tls_credentials.h"

namespace raft {

namespace {

// Trailing metadata of a refusal that means "you were removed".
constexpr char kRemovedTrailer[] = "raftkv-removed";

int milliseconds(std::chrono::milliseconds duration) {
  return static_cast<int>(duration.count());
}

}  // namespace

// ------------------------------------------------------------- receiving --

// One stream a peer opened to this node, read by gRPC's callback API: no
// thread waits on it. Each message is checked, then delivered from the
// thread gRPC completed the read on; the next read starts after that. The
// stream is read as raw bytes and parsed here: with typed reads, bytes that
// are no raft.pb.Message end the stream as a peer's clean close would, and
// the sender would be told all was well.
class GrpcTransport::IncomingStream final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  IncomingStream(GrpcTransport& transport, grpc::CallbackServerContext& context, grpc::ByteBuffer& ack)
      : transport_(transport), context_(context), ack_(ack) {
    ++transport_.incoming_streams_;
    if (std::optional<std::string> refusal = transport_.check_peer_names(*context_.auth_context())) {
      ++transport_.refused_;
      spdlog::warn("refused a peer stream from {}: {}", context_.peer(), *refusal);
      Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, *refusal));
      return;
    }
    StartRead(&bytes_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The peer ended the stream: answered with an (empty) StreamAck.
      grpc::Slice empty;
      ack_ = grpc::ByteBuffer(&empty, 1);
      Finish(grpc::Status::OK);
      return;
    }
    if (!parse_raw_message(bytes_, message_)) {
      ++transport_.refused_;
      const std::string reason = "a message on the stream is not a raft.pb.Message (" +
                                 std::to_string(bytes_.Length()) + " bytes that do not parse)";
      spdlog::warn("refused a peer stream from {}: {}", context_.peer(), reason);
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, reason));
      return;
    }
    if (const std::optional<Refusal> refusal = transport_.check_incoming(message_)) {
      ++transport_.refused_;
      if (refusal->removed) {
        // Said at every reconnection: quietly, and in a way the caller's
        // transport recognizes.
        spdlog::debug("refused a peer stream from {}: {}", context_.peer(), refusal->reason);
        context_.AddTrailingMetadata(kRemovedTrailer, "1");
        Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, refusal->reason));
        return;
      }
      spdlog::warn("refused a peer stream from {}: {}", context_.peer(), refusal->reason);
      Finish(grpc::Status(
          refusal->misaddressed ? grpc::StatusCode::INVALID_ARGUMENT : grpc::StatusCode::PERMISSION_DENIED,
          refusal->reason));
      return;
    }
    ++transport_.received_;
    transport_.deliver(std::move(message_));
    message_.Clear();
    bytes_.Clear();
    StartRead(&bytes_);
  }

  void OnDone() override { delete this; }

 private:
  GrpcTransport& transport_;
  grpc::CallbackServerContext& context_;
  grpc::ByteBuffer& ack_;
  grpc::ByteBuffer bytes_;
  pb::Message message_;
};

class GrpcTransport::PeerService final
    : public pb::RaftPeer::WithRawCallbackMethod_Stream<pb::RaftPeer::Service> {
 public:
  explicit PeerService(GrpcTransport& transport) : transport_(transport) {}

  grpc::ServerReadReactor<grpc::ByteBuffer>* Stream(grpc::CallbackServerContext* context,
                                                    grpc::ByteBuffer* ack) override {
    return new IncomingStream(transport_, *context, *ack);
  }

 private:
  GrpcTransport& transport_;
};

// --------------------------------------------------------------- sending --

// One peer's outgoing stream, driven by gRPC's callback API: no thread
// waits on it. send() starts a write at once when none is in flight;
// otherwise the message queues and the write's completion starts the next.
// A stream that fails ends, and an alarm reconnects after the back-off.
//
// Lifetime rules (gRPC's reactor contract): a call holds a "hold" from its
// start until this object decides to end it, so gRPC never finishes the call
// under a write started from the raft thread; the hold is removed only
// while no write is in flight. Every gRPC operation is started under
// mutex_, which is safe because the callback API never runs a reaction
// inline from the operation that starts it.
class GrpcTransport::PeerStream {
 public:
  PeerStream(GrpcTransport& transport, NodeId id, std::string address)
      : transport_(transport), id_(id), address_(std::move(address)) {
    const GrpcTransportOptions& options = transport_.options_;
    grpc::ChannelArguments arguments;
    arguments.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
    arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, milliseconds(options.keepalive_interval));
    arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, milliseconds(options.keepalive_timeout));
    arguments.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    arguments.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    // The channel's own reconnection follows the same back-off as ours, and
    // a connection attempt gives up after connect_timeout (gRPC's minimum
    // connect timeout), so a call to an unreachable peer fails instead of
    // waiting for it.
    arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, milliseconds(options.min_backoff));
    arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, milliseconds(options.connect_timeout));
    arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, milliseconds(options.max_backoff));
    channel_ =
        grpc::CreateCustomChannel(address_,
                                  options.channel_credentials != nullptr ? options.channel_credentials
                                                                         : grpc::InsecureChannelCredentials(),
                                  arguments);
    stub_ = pb::RaftPeer::NewStub(channel_);
    delay_ = options.min_backoff;
    std::lock_guard lock(mutex_);
    connect();
  }

  ~PeerStream() { stop(); }

  const std::string& address() const { return address_; }

  void enqueue(pb::Message message) {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    if (queue_.size() >= transport_.options_.max_queued_messages) {
      queue_.pop_front();  // the oldest is the stalest
      ++transport_.dropped_;
    }
    queue_.push_back(std::move(message));
    write_next();
  }

  // Ends the stream and waits until gRPC is done with this object: no
  // callback of its calls or alarms runs after stop() returns.
  void stop() {
    std::unique_lock lock(mutex_);
    if (!stopping_) {
      stopping_ = true;
      if (call_ != nullptr) {
        call_->context.TryCancel();  // fails a write in flight, which then ends the call
        if (!writing_) end_call();
      }
      if (alarm_ != nullptr) alarm_->Cancel();
    }
    idle_.wait(lock, [&] { return outstanding_ == 0; });
  }

 private:
  // One attempt at a stream. Owned by the PeerStream, which keeps it until
  // the next attempt replaces it (its OnDone has run by then).
  class Call final : public grpc::ClientWriteReactor<pb::Message> {
   public:
    explicit Call(PeerStream& stream) : stream_(stream) {}
    void OnWriteDone(bool ok) override { stream_.on_write_done(ok); }
    void OnDone(const grpc::Status& status) override { stream_.on_call_done(status); }

    grpc::ClientContext context;
    pb::StreamAck ack;
    pb::Message writing;           // the message of the write in flight
    bool writing_a_retry = false;  // ... which failed once already on another stream
    bool holding = false;          // the hold that keeps the call open
    bool wrote = false;            // at least one write went through
   private:
    PeerStream& stream_;
  };

  // Under mutex_, not stopping, no call open: starts one.
  void connect() {
    call_ = std::make_unique<Call>(*this);
    ++outstanding_;
    // No connection yet, or a failed one: the call fails at once (no
    // wait_for_ready), and the back-off decides when to try again.
    stub_->async()->Stream(&call_->context, &call_->ack, call_.get());
    call_->AddHold();
    call_->holding = true;
    call_->StartCall();
    write_next();
  }

  // Under mutex_: starts the next queued write, if the call can take one.
  void write_next() {
    if (call_ == nullptr || !call_->holding || writing_) return;
    call_->writing_a_retry = retry_.has_value();
    if (retry_) {
      call_->writing = std::move(*retry_);
      retry_.reset();
    } else if (!queue_.empty()) {
      call_->writing = std::move(queue_.front());
      queue_.pop_front();
    } else {
      return;
    }
    writing_ = true;
    call_->StartWrite(&call_->writing);
  }

  // Under mutex_, no write in flight: lets the call finish (OnDone follows).
  void end_call() {
    if (!call_->holding) return;
    call_->holding = false;
    call_->RemoveHold();
  }

  void on_write_done(bool ok) {
    std::lock_guard lock(mutex_);
    writing_ = false;
    if (ok) {
      ++transport_.sent_;
      if (!call_->wrote) {
        delay_ = transport_.options_.min_backoff;  // the connection works
        if (logged_down_) spdlog::info("connected to peer {} at {}", id_, address_);
        logged_down_ = false;
      }
      call_->wrote = true;
    } else if (!stopping_ && !call_->writing_a_retry) {
      // The stream broke under this message (the peer restarted, say):
      // send it first on the next stream rather than lose it; Raft
      // tolerates the copy if the first one did arrive. Only once: a
      // message that fails again (one the peer refuses) is dropped, so it
      // cannot hold up the queue behind it.
      retry_ = std::move(call_->writing);
    } else if (!stopping_) {
      ++transport_.dropped_;
    }
    if (!ok || stopping_) {
      end_call();
      return;
    }
    write_next();
  }

  // What an ended call means for the rest of the node.
  enum class Ending { kStopped, kRemoved, kUnreachable, kBroken };

  void on_call_done(const grpc::Status& status) {
    Ending ending = Ending::kStopped;
    {
      std::lock_guard lock(mutex_);
      if (!stopping_) {
        ++transport_.reconnects_;
        ending = classify(status);
      }
    }
    // Told without mutex_ held: both calls leave the transport (discovery,
    // the receiver), and stop() waits under nothing but mutex_.
    if (ending == Ending::kRemoved) transport_.told_removed_by(id_);
    if (ending == Ending::kUnreachable && transport_.options_.on_unreachable) {
      transport_.options_.on_unreachable(id_);
    }
    std::lock_guard lock(mutex_);
    if (!stopping_) reconnect_after_back_off();
    --outstanding_;
    if (outstanding_ == 0) idle_.notify_all();
  }

  // Under mutex_, the call ended: sets the alarm that starts the next one.
  void reconnect_after_back_off() {
    std::uniform_int_distribution<long> jitter(0, delay_.count() / 2);
    const auto wait = delay_ + std::chrono::milliseconds(jitter(random_));
    delay_ = std::min(delay_ * 2, transport_.options_.max_backoff);
    alarm_ = std::make_unique<grpc::Alarm>();
    ++outstanding_;
    alarm_->Set(std::chrono::system_clock::now() + wait, [this](bool /*fired*/) { on_alarm(); });
  }

  void on_alarm() {
    std::lock_guard lock(mutex_);
    if (!stopping_) connect();
    --outstanding_;
    if (outstanding_ == 0) idle_.notify_all();
  }

  // Under mutex_: why the call ended, logged.
  Ending classify(const grpc::Status& status) {
    if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
        call_->context.GetServerTrailingMetadata().count(kRemovedTrailer) > 0) {
      return Ending::kRemoved;
    }
    if (!call_->wrote && status.error_code() == grpc::StatusCode::UNAVAILABLE) {
      // Never got through: the peer is down or not where we think.
      if (!logged_down_) {
        spdlog::info("peer {} at {} is unreachable; retrying with back-off", id_, address_);
        logged_down_ = true;
      }
      return Ending::kUnreachable;
    }
    // A peer that went away (restart, shutdown) is news, not an error;
    // anything else -- a refusal, a protocol fault -- is.
    const bool gone = status.error_code() == grpc::StatusCode::CANCELLED ||
                      status.error_code() == grpc::StatusCode::UNAVAILABLE;
    const char* what = status.error_code() == grpc::StatusCode::UNAVAILABLE ? "the connection was lost"
                       : status.error_code() == grpc::StatusCode::CANCELLED ? "the peer ended it (stopping?)"
                                                                            : "the peer refused it";
    spdlog::log(gone ? spdlog::level::info : spdlog::level::warn,
                "stream to peer {} at {} ended: {} ({}: {}); reconnecting", id_, address_, what,
                status_code_name(status.error_code()), status.error_message());
    return Ending::kBroken;
  }

  GrpcTransport& transport_;
  const NodeId id_;
  const std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::RaftPeer::Stub> stub_;
  std::mt19937_64 random_{std::random_device{}()};

  std::mutex mutex_;
  std::condition_variable idle_;  // outstanding_ reached zero
  std::deque<pb::Message> queue_;
  std::optional<pb::Message> retry_;  // failed on the last stream: first on the next
  std::unique_ptr<Call> call_;
  std::unique_ptr<grpc::Alarm> alarm_;  // the pending reconnection
  bool writing_ = false;                // a write is in flight on call_
  int outstanding_ = 0;                 // calls and alarms whose last callback has not run
  std::chrono::milliseconds delay_;
  bool logged_down_ = false;
  bool stopping_ = false;
};

// ------------------------------------------------------------- transport --

GrpcTransport::GrpcTransport(GrpcTransportOptions options)
    : options_(std::move(options)),
      service_(std::make_unique<PeerService>(*this)),
      unknown_method_(std::make_unique<UnknownMethodService>(
          "this is a Raft peer port, serving only raft.pb.RaftPeer between the members of a cluster; "
          "clients use a member's client port")) {}

GrpcTransport::~GrpcTransport() {
  stop();
}

Status GrpcTransport::listen() {
  if (server_ != nullptr) return {};
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen_address,
                           options_.server_credentials != nullptr ? options_.server_credentials
                                                                  : grpc::InsecureServerCredentials(),
                           &listening_port_);
  // gRPC sets SO_REUSEPORT by default, so a second process on the same port
  // would silently share its connections; refuse a busy port instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(service_.get());
  builder.RegisterCallbackGenericService(unknown_method_.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(options_.max_message_bytes));
  // Accept the senders' keepalive pings, even on idle streams.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             milliseconds(options_.keepalive_interval) / 2);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || listening_port_ == 0) {
    server_.reset();
    return Error{ErrorCode::kInvalidArgument,
                 "cannot listen for peers on " + options_.listen_address + " (a bad or busy address)"};
  }
  return {};
}

void GrpcTransport::start(NodeId self, Receiver receiver) {
  {
    std::unique_lock lock(receiver_mutex_);
    self_ = self;
    receiver_ = std::move(receiver);
    running_ = true;
  }
  std::vector<std::unique_ptr<PeerStream>> retired;
  std::lock_guard lock(peers_mutex_);
  retired = connect_peers();
}

void GrpcTransport::set_peers(const std::vector<Peer>& peers) {
  std::vector<std::unique_ptr<PeerStream>> retired;  // stopped after the lock is released
  std::lock_guard lock(peers_mutex_);
  peers_ = peers;
  members_.clear();
  for (const Peer& peer : peers) members_.insert(peer.id);
  if (self_ != kNoNode && !stopped_) retired = connect_peers();
}

std::vector<std::unique_ptr<GrpcTransport::PeerStream>> GrpcTransport::connect_peers() {
  // Streams are opened once this node knows who it is (start()), so that
  // it never opens one to itself.
  std::vector<std::unique_ptr<PeerStream>> retired;
  std::set<NodeId> current;
  for (const Peer& peer : peers_) {
    if (peer.id == self_ || peer.address.empty()) continue;
    current.insert(peer.id);
    std::unique_ptr<PeerStream>& stream = streams_[peer.id];
    if (stream != nullptr && stream->address() == peer.address) continue;
    if (stream != nullptr) {
      spdlog::info("peer {} moved from {} to {}", peer.id, stream->address(), peer.address);
      retired.push_back(std::move(stream));
    }
    stream = std::make_unique<PeerStream>(*this, peer.id, peer.address);
  }
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (current.contains(it->first)) {
      ++it;
    } else {
      retired.push_back(std::move(it->second));
      it = streams_.erase(it);
    }
  }
  return retired;
}

void GrpcTransport::send(pb::Message message) {
  message.set_cluster_id(options_.cluster_id);
  if (message.ByteSizeLong() > options_.max_message_bytes) {
    ++dropped_;
    spdlog::warn("dropped a {}-byte message to peer {}: over the {}-byte limit", message.ByteSizeLong(),
                 message.to(), options_.max_message_bytes);
    return;
  }
  std::lock_guard lock(peers_mutex_);
  auto stream = streams_.find(message.to());
  if (stream == streams_.end() || message.to() == self_) {
    ++dropped_;
    return;
  }
  stream->second->enqueue(std::move(message));
}

std::optional<std::string> GrpcTransport::check_peer_names(const grpc::AuthContext& context) const {
  if (options_.allowed_peer_names.empty()) return std::nullopt;
  const std::set<std::string> names = certificate_names(context);
  for (const std::string& name : names) {
    if (options_.allowed_peer_names.contains(name)) return std::nullopt;
  }
  std::string listed;
  for (const std::string& name : names) listed += (listed.empty() ? "" : ", ") + name;
  return "the peer's certificate names " + (listed.empty() ? std::string("nothing") : listed) +
         ", none of them an allowed peer name";
}

std::optional<GrpcTransport::Refusal> GrpcTransport::check_incoming(const pb::Message& message) {
  if (message.cluster_id() != options_.cluster_id) {
    return Refusal{false, false,
                   "a message of cluster " + std::to_string(message.cluster_id()) + ", this is cluster " +
                       std::to_string(options_.cluster_id)};
  }
  const NodeId self = self_;
  {
    std::lock_guard lock(peers_mutex_);
    // A leader removed by the configuration it just committed hands over
    // with TimeoutNow right after the commit (dissertation §4.2.2, §3.10),
    // and the receiver may have applied that commit, and learned of the
    // removal, before the message arrives: let it through. The core obeys
    // it only from the leader it follows, in the current term.
    const bool hand_over = message.has_timeout_now() && removed_.contains(message.from());
    if (removed_.contains(message.from()) && !hand_over) {
      return Refusal{false, true,
                     "node " + std::to_string(message.from()) + " was removed from cluster " +
                         std::to_string(options_.cluster_id)};
    }
    if ((!members_.contains(message.from()) && !hand_over) || message.from() == self) {
      return Refusal{false, false,
                     "a message from node " + std::to_string(message.from()) +
                         ", which is not a member of cluster " + std::to_string(options_.cluster_id)};
    }
  }
  // Before start() the node's id is unknown; deliver() drops such messages.
  if (self != kNoNode && message.to() != self) {
    return Refusal{
        true, false,
        "a message for node " + std::to_string(message.to()) + " reached node " + std::to_string(self)};
  }
  return std::nullopt;
}

void GrpcTransport::set_removed(const std::vector<NodeId>& removed) {
  std::lock_guard lock(peers_mutex_);
  removed_ = std::set<NodeId>(removed.begin(), removed.end());
}

void GrpcTransport::told_removed_by(NodeId peer) {
  pb::Message told;
  told.set_cluster_id(options_.cluster_id);
  told.set_from(peer);
  told.set_to(self_);
  told.mutable_request_vote_response()->set_requester_removed(true);
  deliver(std::move(told));
}

void GrpcTransport::deliver(pb::Message message) {
  std::shared_lock lock(receiver_mutex_);
  if (running_) receiver_(std::move(message));
}

void GrpcTransport::stop() {
  {
    std::unique_lock lock(receiver_mutex_);
    running_ = false;
  }
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    server_.reset();
  }
  std::map<NodeId, std::unique_ptr<PeerStream>> streams;
  {
    std::lock_guard lock(peers_mutex_);
    stopped_ = true;  // set_peers() opens nothing from now on
    streams.swap(streams_);
  }
  streams.clear();  // each ends its stream and waits out its callbacks
}

GrpcTransportCounters GrpcTransport::counters() const {
  return GrpcTransportCounters{sent_, received_, dropped_, refused_, reconnects_, incoming_streams_};
}

}  // namespace raft
