#include "raft/grpc_transport.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "proto/raft.grpc.pb.h"
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

class GrpcTransport::PeerService final : public pb::RaftPeer::Service {
 public:
  explicit PeerService(GrpcTransport& transport) : transport_(transport) {}

  grpc::Status Stream(grpc::ServerContext* context, grpc::ServerReader<pb::Message>* reader,
                      pb::StreamAck* /*ack*/) override {
    ++transport_.incoming_streams_;
    if (std::optional<std::string> refusal = transport_.check_peer_names(*context->auth_context())) {
      ++transport_.refused_;
      spdlog::warn("refused a peer stream from {}: {}", context->peer(), *refusal);
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, *refusal);
    }
    pb::Message message;
    while (reader->Read(&message)) {
      if (const std::optional<Refusal> refusal = transport_.check_incoming(message)) {
        ++transport_.refused_;
        if (refusal->removed) {
          // Said at every reconnection: quietly, and in a way the caller's
          // transport recognizes.
          spdlog::debug("refused a peer stream from {}: {}", context->peer(), refusal->reason);
          context->AddTrailingMetadata(kRemovedTrailer, "1");
          return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, refusal->reason);
        }
        spdlog::warn("refused a peer stream from {}: {}", context->peer(), refusal->reason);
        return grpc::Status(
            refusal->misaddressed ? grpc::StatusCode::INVALID_ARGUMENT : grpc::StatusCode::PERMISSION_DENIED,
            refusal->reason);
      }
      ++transport_.received_;
      transport_.deliver(std::move(message));
    }
    return grpc::Status::OK;
  }

 private:
  GrpcTransport& transport_;
};

// --------------------------------------------------------------- sending --

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
    // The channel's own reconnection follows the same back-off as ours.
    arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, milliseconds(options.min_backoff));
    arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, milliseconds(options.min_backoff));
    arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, milliseconds(options.max_backoff));
    channel_ =
        grpc::CreateCustomChannel(address_,
                                  options.channel_credentials != nullptr ? options.channel_credentials
                                                                         : grpc::InsecureChannelCredentials(),
                                  arguments);
    stub_ = pb::RaftPeer::NewStub(channel_);
    thread_ = std::thread([this] { run(); });
  }

  ~PeerStream() { stop(); }

  const std::string& address() const { return address_; }

  void enqueue(pb::Message message) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      if (queue_.size() >= transport_.options_.max_queued_messages) {
        queue_.pop_front();  // the oldest is the stalest
        ++transport_.dropped_;
      }
      queue_.push_back(std::move(message));
    }
    wake_.notify_one();
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
      if (context_ != nullptr) context_->TryCancel();  // unblocks a Write
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  // Waits for the back-off, or until stop(); false when stopping.
  bool back_off(std::chrono::milliseconds& delay) {
    std::uniform_int_distribution<long> jitter(0, delay.count() / 2);
    const auto wait = delay + std::chrono::milliseconds(jitter(random_));
    delay = std::min(delay * 2, transport_.options_.max_backoff);
    std::unique_lock lock(mutex_);
    return !wake_.wait_for(lock, wait, [&] { return stopping_; });
  }

  std::optional<pb::Message> next_message() {
    std::unique_lock lock(mutex_);
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return std::nullopt;
    pb::Message message = std::move(queue_.front());
    queue_.pop_front();
    return message;
  }

  void run() {
    const GrpcTransportOptions& options = transport_.options_;
    std::chrono::milliseconds delay = options.min_backoff;
    bool logged_down = false;
    while (true) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
      }
      if (!channel_->WaitForConnected(std::chrono::system_clock::now() + options.connect_timeout)) {
        if (!logged_down) {
          spdlog::info("peer {} at {} is unreachable; retrying with back-off", id_, address_);
          logged_down = true;
        }
        if (options.on_unreachable) options.on_unreachable(id_);
        if (!back_off(delay)) return;
        continue;
      }
      auto context = std::make_unique<grpc::ClientContext>();
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        context_ = context.get();
      }
      pb::StreamAck ack;
      std::unique_ptr<grpc::ClientWriter<pb::Message>> writer = stub_->Stream(context.get(), &ack);
      if (logged_down) spdlog::info("connected to peer {} at {}", id_, address_);
      logged_down = false;
      bool wrote = false;
      bool broken = false;
      while (std::optional<pb::Message> message = next_message()) {
        if (!writer->Write(*message)) {
          broken = true;
          break;
        }
        ++transport_.sent_;
        if (!wrote) delay = options.min_backoff;  // the connection works
        wrote = true;
      }
      // Stopping: end the stream. Broken: the peer ended it, and Finish()
      // says why (a refusal) -- unless it is cancelled first.
      if (!broken) context->TryCancel();
      const grpc::Status finished = writer->Finish();
      {
        std::lock_guard lock(mutex_);
        context_ = nullptr;
        if (stopping_) return;
      }
      ++transport_.reconnects_;
      if (finished.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
          context->GetServerTrailingMetadata().count(kRemovedTrailer) > 0) {
        transport_.told_removed_by(id_);
        if (!back_off(delay)) return;
        continue;
      }
      // A peer that went away (restart, shutdown) is news, not an error;
      // anything else -- a refusal, a protocol fault -- is.
      const bool gone = finished.error_code() == grpc::StatusCode::CANCELLED ||
                        finished.error_code() == grpc::StatusCode::UNAVAILABLE;
      spdlog::log(gone ? spdlog::level::info : spdlog::level::warn, "stream to peer {} at {} ended: {} {}",
                  id_, address_, static_cast<int>(finished.error_code()), finished.error_message());
      if (!back_off(delay)) return;
    }
  }

  GrpcTransport& transport_;
  const NodeId id_;
  const std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::RaftPeer::Stub> stub_;
  std::mt19937_64 random_{std::random_device{}()};

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<pb::Message> queue_;
  grpc::ClientContext* context_ = nullptr;  // the live stream's, for TryCancel
  bool stopping_ = false;
  std::thread thread_;
};

// ------------------------------------------------------------- transport --

GrpcTransport::GrpcTransport(GrpcTransportOptions options)
    : options_(std::move(options)), service_(std::make_unique<PeerService>(*this)) {}

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
    if (removed_.contains(message.from())) {
      return Refusal{false, true,
                     "node " + std::to_string(message.from()) + " was removed from cluster " +
                         std::to_string(options_.cluster_id)};
    }
    if (!members_.contains(message.from()) || message.from() == self) {
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
  streams.clear();  // each stops and joins its sender thread
}

GrpcTransportCounters GrpcTransport::counters() const {
  return GrpcTransportCounters{sent_, received_, dropped_, refused_, reconnects_, incoming_streams_};
}

}  // namespace raft
