#include "raft/local_transport.h"

namespace raft {

std::shared_ptr<LocalNetwork> LocalNetwork::create(std::uint64_t seed) {
  return std::shared_ptr<LocalNetwork>(new LocalNetwork(seed));
}

LocalNetwork::LocalNetwork(std::uint64_t seed) : random_(seed), thread_([this] { deliver_loop(); }) {}

LocalNetwork::~LocalNetwork() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::shared_ptr<Transport> LocalNetwork::endpoint() {
  return std::make_shared<LocalTransport>(shared_from_this());
}

void LocalNetwork::set_delay(std::chrono::microseconds min, std::chrono::microseconds max) {
  std::lock_guard lock(mutex_);
  min_delay_ = min;
  max_delay_ = std::max(min, max);
}

void LocalNetwork::set_drop_rate(double probability) {
  std::lock_guard lock(mutex_);
  drop_rate_ = probability;
}

void LocalNetwork::isolate(NodeId node) {
  std::lock_guard lock(mutex_);
  isolated_.insert(node);
}

void LocalNetwork::cut(NodeId a, NodeId b) {
  std::lock_guard lock(mutex_);
  cut_links_.insert({std::min(a, b), std::max(a, b)});
}

void LocalNetwork::heal() {
  std::lock_guard lock(mutex_);
  isolated_.clear();
  cut_links_.clear();
}

std::uint64_t LocalNetwork::delivered() const {
  std::lock_guard lock(mutex_);
  return delivered_;
}

void LocalNetwork::attach(NodeId node, Transport::Receiver receiver) {
  std::lock_guard lock(mutex_);
  receivers_[node] = std::move(receiver);
}

void LocalNetwork::detach(NodeId node) {
  // Receivers are called with mutex_ held, so once this returns the
  // receiver is never called again.
  std::lock_guard lock(mutex_);
  receivers_.erase(node);
}

bool LocalNetwork::blocked(NodeId from, NodeId to) const {
  return isolated_.contains(from) || isolated_.contains(to) ||
         cut_links_.contains({std::min(from, to), std::max(from, to)});
}

void LocalNetwork::submit(pb::Message message) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || blocked(message.from(), message.to()) || random_.chance(drop_rate_)) return;
    auto delay = min_delay_;
    if (max_delay_ > min_delay_) {
      delay += std::chrono::microseconds(
          random_.uniform(0, static_cast<std::uint64_t>((max_delay_ - min_delay_).count()) + 1));
    }
    in_flight_.push(InFlight{std::chrono::steady_clock::now() + delay, next_sequence_++, std::move(message)});
  }
  wake_.notify_one();
}

void LocalNetwork::deliver_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (in_flight_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const auto due = in_flight_.top().due;
    if (due > std::chrono::steady_clock::now()) {
      wake_.wait_until(lock, due);
      continue;
    }
    InFlight next = in_flight_.top();
    in_flight_.pop();
    // A partition made while the message was in flight still stops it.
    if (blocked(next.message.from(), next.message.to())) continue;
    auto receiver = receivers_.find(next.message.to());
    if (receiver == receivers_.end()) continue;
    ++delivered_;
    receiver->second(std::move(next.message));
  }
}

void LocalTransport::start(NodeId self, Receiver receiver) {
  self_ = self;
  network_->attach(self, std::move(receiver));
}

void LocalTransport::send(pb::Message message) {
  if (self_.load() == kNoNode) return;
  network_->submit(std::move(message));
}

void LocalTransport::stop() {
  const NodeId self = self_.exchange(kNoNode);
  if (self != kNoNode) network_->detach(self);
}

}  // namespace raft
