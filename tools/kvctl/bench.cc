#include "tools/kvctl/bench.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "proto/etcd_kv.grpc.pb.h"
#include "proto/kv.grpc.pb.h"
#include "raft/grpc_status_name.h"
#include "tools/kvctl/latency_histogram.h"

namespace kvctl {

namespace {

using Clock = std::chrono::steady_clock;

struct Connection {
  std::unique_ptr<raftkv::api::KV::Stub> raftkv;
  std::unique_ptr<etcdserverpb::KV::Stub> etcd;
};

// One closed-loop client: one request in flight, its buffers reused.
struct Client {
  Connection* connection = nullptr;
  std::mt19937_64 random;
  std::string value;
  std::unique_ptr<grpc::ClientContext> context;
  Clock::time_point sent;
  bool reading = false;
  raftkv::api::PutRequest put;
  raftkv::api::PutResponse put_response;
  raftkv::api::RangeRequest range;
  raftkv::api::RangeResponse range_response;
  etcdserverpb::PutRequest etcd_put;
  etcdserverpb::PutResponse etcd_put_response;
  etcdserverpb::RangeRequest etcd_range;
  etcdserverpb::RangeResponse etcd_range_response;
  // Touched only by this client's own callbacks, one at a time.
  LatencyHistogram latencies;
  std::uint64_t errors = 0;
  std::map<std::string, std::uint64_t> error_messages;
};

const char* name_of(BenchOptions::Workload workload) {
  switch (workload) {
    case BenchOptions::Workload::kPut: return "put";
    case BenchOptions::Workload::kGet: return "get";
    case BenchOptions::Workload::kMixed: return "mixed";
  }
  return "?";
}

class Bench {
 public:
  explicit Bench(const BenchOptions& options) : options_(options) {}

  int run();

 private:
  std::string key(Client& client) {
    const std::string number = std::to_string(client.random() % options_.key_space);
    return std::string(static_cast<std::size_t>(options_.key_size) - number.size(), '0') + number;
  }
  bool next_is_read(Client& client) {
    switch (options_.workload) {
      case BenchOptions::Workload::kPut: return false;
      case BenchOptions::Workload::kGet: return true;
      case BenchOptions::Workload::kMixed:
        return std::uniform_real_distribution<double>(0, 1)(client.random) < options_.read_ratio;
    }
    return false;
  }
  void send(Client& client);
  void done(Client& client, const grpc::Status& status);
  void finish_one();
  void report(double seconds, const LatencyHistogram& latencies, std::uint64_t errors,
              const std::map<std::string, std::uint64_t>& messages) const;

  const BenchOptions& options_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> measuring_{false};
  std::atomic<std::uint64_t> completed_{0};  // measured operations, ok or not
  Clock::time_point measure_start_;
  std::atomic<Clock::rep> measure_end_{0};  // when the last measured operation completed
  std::mutex mutex_;
  std::condition_variable all_done_;
  int running_ = 0;
};

void Bench::send(Client& client) {
  client.context = std::make_unique<grpc::ClientContext>();
  client.context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  client.reading = next_is_read(client);
  auto callback = [this, &client](grpc::Status status) { done(client, status); };
  client.sent = Clock::now();
  if (options_.target == BenchOptions::Target::kRaftkv) {
    if (client.reading) {
      client.range.set_key(key(client));
      client.range.set_serializable(options_.serializable);
      client.connection->raftkv->async()->Range(client.context.get(), &client.range, &client.range_response,
                                                std::move(callback));
    } else {
      client.put.set_key(key(client));
      client.put.set_value(client.value);
      client.connection->raftkv->async()->Put(client.context.get(), &client.put, &client.put_response,
                                              std::move(callback));
    }
  } else {
    if (client.reading) {
      client.etcd_range.set_key(key(client));
      client.etcd_range.set_serializable(options_.serializable);
      client.connection->etcd->async()->Range(client.context.get(), &client.etcd_range,
                                              &client.etcd_range_response, std::move(callback));
    } else {
      client.etcd_put.set_key(key(client));
      client.etcd_put.set_value(client.value);
      client.connection->etcd->async()->Put(client.context.get(), &client.etcd_put, &client.etcd_put_response,
                                            std::move(callback));
    }
  }
}

void Bench::done(Client& client, const grpc::Status& status) {
  const Clock::time_point now = Clock::now();
  if (measuring_.load(std::memory_order_relaxed) && now >= measure_start_) {
    if (status.ok()) {
      client.latencies.record(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - client.sent).count()));
    } else {
      ++client.errors;
      ++client.error_messages[std::string(raft::status_code_name(status.error_code())) + ": " +
                              status.error_message()];
    }
    const std::uint64_t measured = completed_.fetch_add(1) + 1;
    Clock::rep latest = measure_end_.load();
    while (latest < now.time_since_epoch().count() &&
           !measure_end_.compare_exchange_weak(latest, now.time_since_epoch().count())) {
    }
    if (options_.total > 0 && measured >= options_.total) stopping_ = true;
  }
  if (stopping_) {
    finish_one();
    return;
  }
  send(client);
}

void Bench::finish_one() {
  std::lock_guard lock(mutex_);
  if (--running_ == 0) all_done_.notify_all();
}

int Bench::run() {
  for (int i = 0; i < options_.connections; ++i) {
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a TCP connection of its own
    arguments.SetInt("kvctl.bench.connection", i);
    auto channel = grpc::CreateCustomChannel(
        options_.endpoints[static_cast<std::size_t>(i) % options_.endpoints.size()],
        options_.credentials != nullptr ? options_.credentials : grpc::InsecureChannelCredentials(),
        arguments);
    auto connection = std::make_unique<Connection>();
    connection->raftkv = raftkv::api::KV::NewStub(channel);
    connection->etcd = etcdserverpb::KV::NewStub(channel);
    connections_.push_back(std::move(connection));
  }
  std::random_device seed;
  for (int i = 0; i < options_.clients; ++i) {
    auto client = std::make_unique<Client>();
    client->connection = connections_[static_cast<std::size_t>(i % options_.connections)].get();
    client->random.seed((static_cast<std::uint64_t>(seed()) << 32) ^ static_cast<std::uint64_t>(i));
    // Random letters: values that do not compress better than real ones.
    client->value.resize(static_cast<std::size_t>(options_.value_size));
    for (char& c : client->value) c = static_cast<char>('a' + client->random() % 26);
    clients_.push_back(std::move(client));
  }

  const Clock::time_point started = Clock::now();
  measure_start_ =
      started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.warmup_s));
  measuring_ = true;
  running_ = options_.clients;
  for (auto& client : clients_) send(*client);

  const bool show_progress = options_.progress && isatty(STDERR_FILENO);
  const Clock::time_point planned_end =
      options_.total > 0 ? Clock::time_point::max()
                         : measure_start_ + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(options_.duration_s));
  std::uint64_t last_completed = 0;
  Clock::time_point last_tick = Clock::now();
  while (!stopping_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const Clock::time_point now = Clock::now();
    if (now >= planned_end) stopping_ = true;
    if (show_progress && now - last_tick >= std::chrono::seconds(1)) {
      const std::uint64_t completed = completed_.load();
      const double rate = static_cast<double>(completed - last_completed) /
                          std::chrono::duration<double>(now - last_tick).count();
      std::fprintf(stderr, "\r%s %6.1f s  %10llu measured  %10.0f ops/s   ",
                   now < measure_start_ ? "warm-up" : "running",
                   std::chrono::duration<double>(now - started).count(),
                   static_cast<unsigned long long>(completed), rate);
      std::fflush(stderr);
      last_completed = completed;
      last_tick = now;
    }
  }
  {
    std::unique_lock lock(mutex_);
    all_done_.wait(lock, [&] { return running_ == 0; });
  }
  if (show_progress) std::fprintf(stderr, "\r%70s\r", "");

  LatencyHistogram latencies;
  std::uint64_t errors = 0;
  std::map<std::string, std::uint64_t> messages;
  for (const auto& client : clients_) {
    latencies.merge(client->latencies);
    errors += client->errors;
    for (const auto& [message, count] : client->error_messages) messages[message] += count;
  }
  const Clock::time_point end{Clock::duration(measure_end_.load())};
  const double seconds = completed_ == 0 ? 0 : std::chrono::duration<double>(end - measure_start_).count();
  report(seconds, latencies, errors, messages);
  return errors == 0 && completed_ > 0 ? 0 : 1;
}

void Bench::report(double seconds, const LatencyHistogram& latencies, std::uint64_t errors,
                   const std::map<std::string, std::uint64_t>& messages) const {
  const std::uint64_t operations = latencies.count() + errors;
  const double rate = seconds > 0 ? static_cast<double>(latencies.count()) / seconds : 0;
  const auto ms = [](std::uint64_t nanoseconds) { return static_cast<double>(nanoseconds) / 1e6; };
  const char* target = options_.target == BenchOptions::Target::kRaftkv ? "raftkv" : "etcd";
  const char* reads = options_.serializable ? "serializable" : "linearizable";
  if (options_.json) {
    std::printf(
        "{\"target\":\"%s\",\"workload\":\"%s\",\"clients\":%d,\"connections\":%d,\"key_space\":%llu,"
        "\"key_size\":%d,\"value_size\":%d,\"read_ratio\":%.3f,\"reads\":\"%s\",\"seconds\":%.3f,"
        "\"operations\":%llu,\"errors\":%llu,\"ops_per_second\":%.1f,\"latency_ms\":{\"mean\":%.3f,"
        "\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}}\n",
        target, name_of(options_.workload), options_.clients, options_.connections,
        static_cast<unsigned long long>(options_.key_space), options_.key_size, options_.value_size,
        options_.read_ratio, reads, seconds, static_cast<unsigned long long>(operations),
        static_cast<unsigned long long>(errors), rate, latencies.mean() / 1e6, ms(latencies.percentile(0.5)),
        ms(latencies.percentile(0.9)), ms(latencies.percentile(0.99)), ms(latencies.percentile(0.999)),
        ms(latencies.max()));
  } else {
    std::printf("%s %s: %d client%s over %d connection%s, %llu keys of %d B, values of %d B", target,
                name_of(options_.workload), options_.clients, options_.clients == 1 ? "" : "s",
                options_.connections, options_.connections == 1 ? "" : "s",
                static_cast<unsigned long long>(options_.key_space), options_.key_size, options_.value_size);
    if (options_.workload != BenchOptions::Workload::kPut) std::printf(", %s reads", reads);
    if (options_.workload == BenchOptions::Workload::kMixed)
      std::printf(" (%.0f %%)", options_.read_ratio * 100);
    std::printf("\n%llu operations in %.2f s (after %.1f s of warm-up): %.0f ops/s, %llu errors\n",
                static_cast<unsigned long long>(operations), seconds, options_.warmup_s, rate,
                static_cast<unsigned long long>(errors));
    std::printf("latency ms: mean %.3f  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
                latencies.mean() / 1e6, ms(latencies.percentile(0.5)), ms(latencies.percentile(0.9)),
                ms(latencies.percentile(0.99)), ms(latencies.percentile(0.999)), ms(latencies.max()));
  }
  for (const auto& [message, count] : messages) {
    std::fprintf(stderr, "kvctl bench: %llu x %s\n", static_cast<unsigned long long>(count), message.c_str());
  }
}

}  // namespace

int run_bench(const BenchOptions& options) {
  Bench bench(options);
  return bench.run();
}

}  // namespace kvctl
