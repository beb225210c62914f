#include "tests/fault/workload.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <map>

#include "kvstore/api_metadata.h"

namespace raftkv::fault {

namespace api = raftkv::api;
using checker::Operation;
using checker::OpKind;
using checker::Outcome;

namespace {

// Each client gets connections of its own (a local subchannel pool), as
// separate client processes would, and reconnects quickly after a member
// comes back (gRPC's default back-off grows to two minutes).
std::unique_ptr<api::KV::Stub> connect(const std::string& address) {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  return api::KV::NewStub(grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), arguments));
}

// A write's outcome from its status: see the header.
Outcome write_outcome(const grpc::Status& status, const grpc::ClientContext& context) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK: return Outcome::kOk;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return Outcome::kFailed;
    case grpc::StatusCode::UNAVAILABLE:
      return context.GetServerTrailingMetadata().count(kv::kNotAppliedTrailer) > 0 ? Outcome::kFailed
                                                                                   : Outcome::kUnknown;
    default: return Outcome::kUnknown;
  }
}

}  // namespace

Workload::Workload(WorkloadOptions options, std::vector<std::string> addresses,
                   std::chrono::steady_clock::time_point origin)
    : options_(options),
      addresses_(std::move(addresses)),
      origin_(origin),
      slot_generation_(static_cast<std::size_t>(options.key_slots)),
      slot_uses_(static_cast<std::size_t>(options.key_slots)) {
  for (const std::string& address : addresses_) harness_stubs_.push_back(connect(address));
}

Workload::~Workload() {
  stop();
}

std::int64_t Workload::now() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - origin_)
      .count();
}

void Workload::record(const Operation& operation) {
  std::lock_guard lock(history_mutex_);
  history_.push_back(operation);
}

std::string Workload::next_key(std::mt19937_64& random) {
  const std::size_t slot = random() % slot_generation_.size();
  std::uint64_t generation = slot_generation_[slot].load();
  if (slot_uses_[slot].fetch_add(1) + 1 >= options_.operations_per_key) {
    // The caller that fills the key moves the slot on; others may still
    // use the old key for a moment, which is fine.
    if (slot_generation_[slot].compare_exchange_strong(generation, generation + 1)) slot_uses_[slot] = 0;
  }
  return "s" + std::to_string(slot) + "-k" + std::to_string(generation);
}

Operation Workload::call(api::KV::Stub& stub, Operation operation, bool serializable) const {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.timeout);
  operation.invoke = now();
  switch (operation.kind) {
    case OpKind::kRead: {
      api::RangeRequest request;
      request.set_key(operation.key);
      request.set_serializable(serializable);
      api::RangeResponse response;
      const grpc::Status status = stub.Range(&context, request, &response);
      operation.complete = now();
      operation.outcome = status.ok() ? Outcome::kOk : Outcome::kFailed;
      if (status.ok() && response.kvs_size() > 0) operation.observed = response.kvs(0).value();
      break;
    }
    case OpKind::kWrite: {
      api::PutRequest request;
      request.set_key(operation.key);
      request.set_value(*operation.value);
      api::PutResponse response;
      const grpc::Status status = stub.Put(&context, request, &response);
      operation.complete = now();
      operation.outcome = write_outcome(status, context);
      break;
    }
    case OpKind::kCas: {
      api::TxnRequest request;
      api::Compare* compare = request.add_compare();
      compare->set_key(operation.key);
      if (operation.expected) {
        compare->set_target(api::Compare::VALUE);
        compare->set_value(*operation.expected);
      } else {
        compare->set_target(api::Compare::VERSION);  // version 0: the key does not exist
        compare->set_number(0);
      }
      api::PutRequest* swap = request.add_success()->mutable_put();
      swap->set_key(operation.key);
      swap->set_value(*operation.value);
      api::TxnResponse response;
      const grpc::Status status = stub.Txn(&context, request, &response);
      operation.complete = now();
      if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
        operation.outcome = Outcome::kOk;
        operation.swapped = false;
      } else {
        operation.outcome = write_outcome(status, context);
        operation.swapped = status.ok();
      }
      break;
    }
  }
  return operation;
}

void Workload::run_client(std::uint64_t client) {
  std::mt19937_64 random(options_.seed * 1000 + client);
  std::vector<std::unique_ptr<api::KV::Stub>> stubs;
  for (const std::string& address : addresses_) stubs.push_back(connect(address));
  // Each client has a home member, as a client configured with one
  // endpoint would, and moves to another after a failure.
  std::size_t member = client % stubs.size();
  std::map<std::string, std::optional<std::string>> last_seen;  // for CAS's expected value
  std::uint64_t written = 0;
  while (!stopping_) {
    Operation operation;
    operation.id = next_id_++;
    operation.client = client;
    operation.key = next_key(random);
    const unsigned roll = static_cast<unsigned>(random() % 100);
    if (roll < 45) {
      operation.kind = OpKind::kRead;
    } else {
      operation.kind = roll < 80 ? OpKind::kWrite : OpKind::kCas;
      operation.value = "c" + std::to_string(client) + "-" + std::to_string(++written);
      if (operation.kind == OpKind::kCas) {
        auto seen = last_seen.find(operation.key);
        if (seen != last_seen.end()) operation.expected = seen->second;
      }
    }
    operation = call(*stubs[member], std::move(operation), options_.serializable_reads);
    record(operation);
    if (operation.outcome == Outcome::kOk) {
      if (operation.kind == OpKind::kRead) last_seen[operation.key] = operation.observed;
      if (operation.kind == OpKind::kWrite || operation.swapped) last_seen[operation.key] = operation.value;
      std::this_thread::sleep_for(std::chrono::milliseconds(random() % 10));
    } else {
      member = random() % stubs.size();
      std::this_thread::sleep_for(std::chrono::milliseconds(20 + random() % 80));
    }
  }
}

void Workload::start() {
  for (int client = 1; client <= options_.clients; ++client) {
    threads_.emplace_back([this, client] { run_client(static_cast<std::uint64_t>(client)); });
  }
}

void Workload::stop() {
  stopping_ = true;
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

Operation Workload::until_ok(const Operation& request, std::chrono::steady_clock::time_point deadline) {
  std::size_t member = harness_calls_++ % harness_stubs_.size();
  Operation operation = request;
  operation.outcome = Outcome::kUnknown;
  while (std::chrono::steady_clock::now() < deadline) {
    operation = request;
    operation.id = next_id_++;
    operation.client = 0;
    if (operation.value) operation.value = *request.value + "-" + std::to_string(operation.id);
    operation = call(*harness_stubs_[member], std::move(operation), /*serializable=*/false);
    record(operation);
    if (operation.outcome == Outcome::kOk) break;
    member = (member + 1) % harness_stubs_.size();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return operation;
}

bool Workload::probe_write(const std::string& key, std::chrono::steady_clock::time_point deadline) {
  Operation write;
  write.kind = OpKind::kWrite;
  write.key = key;
  write.value = "probe";  // made unique per attempt
  return until_ok(write, deadline).outcome == Outcome::kOk;
}

std::optional<std::optional<std::string>> Workload::final_read(
    const std::string& key, std::chrono::steady_clock::time_point deadline) {
  Operation read;
  read.kind = OpKind::kRead;
  read.key = key;
  const Operation done = until_ok(read, deadline);
  if (done.outcome != Outcome::kOk) return std::nullopt;
  return done.observed;
}

checker::History Workload::history() const {
  std::lock_guard lock(history_mutex_);
  checker::History sorted = history_;
  std::sort(sorted.begin(), sorted.end(),
            [](const Operation& a, const Operation& b) { return a.invoke < b.invoke; });
  return sorted;
}

}  // namespace raftkv::fault
