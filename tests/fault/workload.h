#pragma once
// The fault harness's clients: threads that read, write and compare-and-swap
// single keys through the KV API for as long as the run lasts, each call
// recorded with its invoke and complete times and its outcome (a
// checker::History). Every write writes a value of its own ("c3-117"), so
// a read names the write it saw.
//
// Outcomes, from the API's promises (docs/api.md):
// - a read that failed in any way changed nothing: kFailed;
// - a write or CAS is kOk when acknowledged (a CAS answered
//   FAILED_PRECONDITION is an ok CAS that did not swap), kFailed only when
//   the cluster said it certainly did not apply (INVALID_ARGUMENT,
//   RESOURCE_EXHAUSTED, or UNAVAILABLE with the raftkv-not-applied
//   trailer), and kUnknown otherwise (deadline, broken connection...).
//
// Keys rotate: each of `key_slots` slots moves to a fresh key after
// `operations_per_key` operations, which keeps each key's history short
// enough for the checker whatever the run's length (Jepsen does the same).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "proto/kv.grpc.pb.h"
#include "tests/checker/history.h"

namespace raftkv::fault {

struct WorkloadOptions {
  int clients = 10;
  int key_slots = 6;
  int operations_per_key = 250;
  std::chrono::milliseconds timeout{2000};  // each call's deadline
  // Reads from the member's own state, not linearizable: for checking that
  // the harness catches what it should (a known-bad run).
  bool serializable_reads = false;
  std::uint64_t seed = 1;
};

class Workload {
 public:
  // `addresses`: every member's client address. `origin`: time zero of the
  // history (invoke and complete are microseconds since it).
  Workload(WorkloadOptions options, std::vector<std::string> addresses,
           std::chrono::steady_clock::time_point origin);
  ~Workload();

  void start();
  void stop();  // waits for every client's call in progress

  // One write to `key` (client id 0, the harness) through members in turn
  // until one is acknowledged or `deadline` passes; recorded like any
  // other. True when acknowledged.
  bool probe_write(const std::string& key, std::chrono::steady_clock::time_point deadline);
  // A linearizable read of `key` until one succeeds or `deadline` passes;
  // recorded. The value read (nullopt: absent), or nullopt-nullopt when no
  // read succeeded.
  std::optional<std::optional<std::string>> final_read(const std::string& key,
                                                       std::chrono::steady_clock::time_point deadline);

  checker::History history() const;  // every call so far, by invocation

 private:
  void run_client(std::uint64_t client);
  // Sends `request` as the harness (client 0), through each member in
  // turn, until one call is ok or `deadline` passes; every attempt is
  // recorded (a write's value made unique by the attempt's id). The last
  // attempt.
  checker::Operation until_ok(const checker::Operation& request,
                              std::chrono::steady_clock::time_point deadline);
  checker::Operation call(raftkv::api::KV::Stub& stub, checker::Operation operation, bool serializable) const;
  std::string next_key(std::mt19937_64& random);
  std::int64_t now() const;
  void record(const checker::Operation& operation);

  const WorkloadOptions options_;
  const std::vector<std::string> addresses_;
  const std::chrono::steady_clock::time_point origin_;
  std::vector<std::unique_ptr<raftkv::api::KV::Stub>> harness_stubs_;  // one per member
  std::vector<std::atomic<std::uint64_t>> slot_generation_;
  std::vector<std::atomic<int>> slot_uses_;
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
  mutable std::mutex history_mutex_;
  checker::History history_;
  std::uint64_t harness_calls_ = 0;
};

}  // namespace raftkv::fault
