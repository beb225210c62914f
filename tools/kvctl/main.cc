// kvctl: the command-line client of raftkv, after etcdctl.
//
//   kvctl [--endpoints A,B,... | --discovery-srv DOMAIN [--dns-server HOST:PORT]]
//         [--cacert FILE [--cert FILE --key FILE]] [-o|-w simple|json|table]
//         [--command-timeout 5s] COMMAND ...         (endpoints: HOST:PORT or http://HOST:PORT)
//     put KEY [VALUE | - | --from-file FILE] [--prev-kv]   (no VALUE or -: standard input)
//     get KEY [RANGE_END | --prefix | --from-key] [--limit N] [--keys-only] [--count-only]
//         [--print-value-only] [--sort-by KEY|VALUE|CREATE|MODIFY|VERSION] [--order ASCEND|DESCEND]
//         [--serializable]                      ("" --prefix or "" --from-key: every key)
//     del KEY [RANGE_END | --prefix | --from-key] [--prev-kv]
//     cas KEY EXPECTED NEW          (compare-and-swap of the value)
//     member list | member add [--learner] [--client-addr HOST:PORT] ID PEER-ADDR
//     member promote ID | member remove ID
//     endpoint status | endpoint health | endpoint hash
//     leader transfer ID
//     bench put|get|mixed [--clients N] [--conns M] [--key-space-size K] [--key-size B] [--val-size B]
//                         [--consistency l|s] [--duration S | --total N] [--warmup S] [--read-ratio R]
//                         [--target raftkv|etcd]            (tools/kvctl/bench.h)
//
// Endpoints come from --discovery-srv (the SRV records of
// _raftkv-client._tcp.DOMAIN, in RFC 2782 order, as raftkvd publishes
// them), else --endpoints, else KVCTL_ENDPOINTS, else 127.0.0.1:9001. A request goes to the leader when kvctl
// can find it (any member would forward it), and UNAVAILABLE is retried on the next endpoint with bounded
// back-off until --command-timeout -- for a write only when it certainly did not apply (an endpoint kvctl
// could not connect to, or a refusal marked raftkv-not-applied): a write retried after an ambiguous failure
// could apply twice, or a compare-and-swap report the loss of its own success. Errors are one line on
// stderr: exit status 1 for a failed request, 2 for bad usage.
//
// With --cacert kvctl speaks TLS and verifies the members' certificates against that CA (their
// certificates must name the endpoint's host); --cert and --key present a client certificate, for
// members started with --client-cert-auth. KVCTL_CACERT, KVCTL_CERT and KVCTL_KEY work too.

#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <thread>

#include "kvstore/api_metadata.h"
#include "proto/kv.grpc.pb.h"
#include "raft/dns_resolver.h"
#include "raft/grpc_status_name.h"
#include "raft/snapshot_file.h"
#include "raft/standalone_snapshot_file.h"
#include "raft/tls_credentials.h"
#include "tools/kvctl/bench.h"
#include "tools/kvctl/json_output.h"
#include "tools/kvctl/table.h"

namespace {

namespace api = raftkv::api;
using Clock = std::chrono::system_clock;

struct Options {
  std::string endpoints = "127.0.0.1:9001";
  std::string discovery_srv;
  std::string dns_server;
  std::string output = "simple";
  std::string command_timeout = "5s";
  std::string cacert;
  std::string cert;
  std::string key;
};

// Plaintext without --cacert, --cert or --key; else TLS with the files,
// checked (a bad one is a message and exit status 2).
std::shared_ptr<grpc::ChannelCredentials> channel_credentials(const Options& options) {
  if (options.cacert.empty() && options.cert.empty() && options.key.empty())
    return grpc::InsecureChannelCredentials();
  auto material =
      raft::load_tls_material({options.cert, options.key, options.cacert}, "TLS", raft::ChainCheck::kNone);
  if (!material.ok()) {
    std::fprintf(stderr, "kvctl: %s\n", material.error().message.c_str());
    std::exit(2);
  }
  return raft::tls_channel_credentials(material.value());
}

// A validator for a whole number of at least `minimum`, with a plain
// message (CLI11's own range checks print their bound to 300 digits).
CLI::Validator at_least(long long minimum) {
  return CLI::Validator(
      [minimum](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const long long value = std::strtoll(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || errno == ERANGE) return "'" + text + "' is not a whole number";
        if (value < minimum) return "must be " + std::to_string(minimum) + " or more, not " + text;
        return {};
      },
      "INT>=" + std::to_string(minimum));
}

// "5" (seconds), "5s", "500ms", "1.5m": etcdctl's --command-timeout takes
// Go durations. Returns seconds, or a negative number if `text` is none.
double parse_duration_seconds(const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || !(value > 0)) return -1;
  const std::string unit = end;
  if (unit.empty() || unit == "s") return value;
  if (unit == "ms") return value / 1000;
  if (unit == "m") return value * 60;
  return -1;
}

// An endpoint as etcdctl users write it: HOST:PORT, or a URL
// (http://HOST:PORT/), whose scheme and path go.
std::string endpoint_address(std::string endpoint) {
  for (const char* scheme : {"http://", "https://", "dns:///"}) {
    if (endpoint.rfind(scheme, 0) == 0) endpoint.erase(0, std::strlen(scheme));
  }
  if (const std::size_t slash = endpoint.find('/'); slash != std::string::npos) endpoint.erase(slash);
  return endpoint;
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::string part =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!part.empty()) parts.push_back(endpoint_address(part));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return parts;
}

// The members' client addresses from DNS: the SRV records of
// _raftkv-client._tcp.DOMAIN, each target's first address. Empty (after a
// message on stderr) when the lookup fails.
std::vector<std::string> discover_endpoints(const Options& options) {
  const std::string name = "_raftkv-client._tcp." + options.discovery_srv;
  auto resolver = raft::DnsResolver::create({options.dns_server, std::chrono::milliseconds(1000), 2});
  if (!resolver.ok()) {
    std::fprintf(stderr, "kvctl: --dns-server: %s\n", resolver.detail.c_str());
    return {};
  }
  raft::DnsAnswer<std::vector<raft::SrvRecord>> records = resolver.records->srv(name);
  if (!records.ok()) {
    std::fprintf(stderr, "kvctl: cannot discover endpoints: %s (%s)\n",
                 std::string(raft::to_string(records.failure)).c_str(), records.detail.c_str());
    return {};
  }
  std::vector<std::string> endpoints;
  for (const raft::SrvRecord& record : records.records) {
    raft::DnsAnswer<std::vector<std::string>> addresses = resolver.records->addresses(record.target);
    if (addresses.ok()) endpoints.push_back(raft::join_host_port(addresses.records.front(), record.port));
  }
  if (endpoints.empty())
    std::fprintf(stderr, "kvctl: no target of %s resolves to an address\n", name.c_str());
  return endpoints;
}

std::string json(const google::protobuf::Message& message) {
  return kvctl::to_json(message);
}

// The end of the range of keys that start with `prefix` (etcd's rule).
std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    if (static_cast<unsigned char>(prefix.back()) < 0xff) {
      prefix.back() = static_cast<char>(prefix.back() + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string("\0", 1);  // every key
}

// The keys a command names, etcdctl's way: KEY alone; [KEY, RANGE_END);
// every key starting with KEY (--prefix); every key >= KEY (--from-key).
// "" with --prefix or --from-key is every key (the API spells that
// key "\0", range_end "\0").
struct KeyRange {
  std::string key;
  std::string end;
};

// KEY [RANGE_END] [--prefix | --from-key], as get and del take them (at
// most one of the three ways to name more than KEY).
void add_key_range(CLI::App& command, std::string& key, std::string& range_end, bool& prefix,
                   bool& from_key) {
  command.add_option("key", key)->required();
  CLI::Option* end = command.add_option("range_end", range_end, "the end of the range (exclusive)");
  CLI::Option* starts_with =
      command.add_flag("--prefix", prefix, "every key that starts with KEY (\"\" --prefix: every key)")
          ->excludes(end);
  command.add_flag("--from-key", from_key, "every key >= KEY, in byte order (\"\" --from-key: every key)")
      ->excludes(end)
      ->excludes(starts_with);
}

KeyRange key_range(const std::string& key, const std::string& range_end, bool prefix, bool from_key) {
  const std::string every(1, '\0');
  if ((prefix || from_key) && key.empty()) return {every, every};
  if (prefix) return {key, prefix_end(key)};
  if (from_key) return {key, every};
  return {key, range_end};
}

// Writes `bytes` and a newline as they are (a value may hold any byte, NUL
// included).
void print_line(const std::string& bytes) {
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  std::fputc('\n', stdout);
}

void print_key_value(const raftkv::api::KeyValue& kv, bool keys_only) {
  print_line(kv.key());
  if (!keys_only) print_line(kv.value());
}

// All of standard input or of FILE ("" for standard input): a value too
// large for a command line. False, with `error` set, when it cannot be read.
bool read_all(const std::string& file, std::string& into, std::string& error) {
  std::FILE* in = file.empty() ? stdin : std::fopen(file.c_str(), "rb");
  if (in == nullptr) {
    error = "cannot open " + file + ": " + std::strerror(errno);
    return false;
  }
  char block[65536];
  std::size_t read = 0;
  while ((read = std::fread(block, 1, sizeof block, in)) > 0) into.append(block, read);
  const bool ok = std::ferror(in) == 0;
  if (!ok)
    error =
        "cannot read " + (file.empty() ? std::string("standard input") : file) + ": " + std::strerror(errno);
  if (!file.empty()) std::fclose(in);
  return ok;
}

// etcdctl's --sort-by targets; the order of equal ones stays the server's
// (by key).
void sort_key_values(google::protobuf::RepeatedPtrField<raftkv::api::KeyValue>& kvs, const std::string& by,
                     bool descending) {
  const auto less = [&](const raftkv::api::KeyValue& a, const raftkv::api::KeyValue& b) {
    if (by == "VALUE") return a.value() < b.value();
    if (by == "CREATE") return a.create_revision() < b.create_revision();
    if (by == "MODIFY") return a.mod_revision() < b.mod_revision();
    if (by == "VERSION") return a.version() < b.version();
    return a.key() < b.key();
  };
  std::stable_sort(kvs.begin(), kvs.end(),
                   [&](const auto& a, const auto& b) { return descending ? less(b, a) : less(a, b); });
}

// Causes of a failed connection that a retry cannot change, told by
// gRPC's message.
enum class LastingFailure { kNone, kHostUnknown, kTlsHandshake };

LastingFailure lasting_failure(const std::string& message) {
  if (message.find("DNS resolution failed") != std::string::npos ||
      message.find("Domain name not found") != std::string::npos) {
    return LastingFailure::kHostUnknown;
  }
  if (message.find("andshake") != std::string::npos || message.find("SSL_ERROR") != std::string::npos ||
      message.find("CERTIFICATE_VERIFY_FAILED") != std::string::npos) {
    return LastingFailure::kTlsHandshake;
  }
  return LastingFailure::kNone;
}

class Client {
 public:
  // `tls_question` is what about TLS might be wrong when a connection
  // fails, as a question.
  Client(std::vector<std::string> endpoints, std::shared_ptr<grpc::ChannelCredentials> credentials,
         std::string tls_question, std::chrono::milliseconds timeout)
      : endpoints_(std::move(endpoints)),
        credentials_(std::move(credentials)),
        tls_question_(std::move(tls_question)),
        deadline_(Clock::now() + timeout) {}

  const std::vector<std::string>& endpoints() const { return endpoints_; }
  void set_endpoints(std::vector<std::string> endpoints) { endpoints_ = std::move(endpoints); }
  Clock::time_point deadline() const { return deadline_; }

  enum class Retry {
    kAlways,          // reads and admin requests: trying again changes nothing
    kIfCertainlyNot,  // writes: only when they certainly did not apply
  };

  enum class Route {
    kLeaderFirst,  // the leader when known: it would be forwarded there anyway
    kAsGiven,      // the endpoints in the order given: a serializable read
                   // answers from the member named, and spares the leader
  };

  // Runs `call` against the leader if known (or the first endpoint, for
  // kAsGiven), then the other endpoints in turn, backing off after
  // UNAVAILABLE until the deadline (see the top of the file for writes).
  grpc::Status call(
      const std::function<grpc::Status(const std::string& endpoint, grpc::ClientContext&)>& call,
      Retry retry = Retry::kAlways, Route route = Route::kLeaderFirst) {
    std::vector<std::string> order = endpoints_;
    if (route == Route::kLeaderFirst) {
      if (const std::string leader = find_leader(); !leader.empty()) order.insert(order.begin(), leader);
    }
    auto backoff = std::chrono::milliseconds(50);
    grpc::Status status(grpc::StatusCode::UNAVAILABLE, "no endpoint was tried");
    // What the members said before the deadline ran out: gRPC's own
    // "Deadline Exceeded" tells a user less than "no leader is known".
    std::string said_before;
    for (std::size_t attempt = 0;; ++attempt) {
      const std::string& endpoint = order[attempt % order.size()];
      bool answered = false;  // status is what a member said, this attempt
      grpc::ClientContext context;
      context.set_deadline(deadline_);
      if (retry == Retry::kIfCertainlyNot && !connect(endpoint)) {
        // Never sent: safe to try elsewhere -- unless the connection was
        // refused for a reason that cannot change, which a read-only call
        // finds out (at once: the channel is failing, not still trying).
        if (channel(endpoint).connection->GetState(false) == GRPC_CHANNEL_TRANSIENT_FAILURE) {
          if (const std::string why = probe(endpoint); lasting_failure(why) != LastingFailure::kNone) {
            return cannot_connect(endpoint, why);
          }
        }
        status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "cannot connect to " + endpoint);
      } else {
        status = call(endpoint, context);
        if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && !said_before.empty()) {
          status = grpc::Status(
              status.error_code(),
              "no answer within --command-timeout; before that, " + said_before +
                  (retry == Retry::kIfCertainlyNot ? " (the write may or may not have been applied; "
                                                     "read the key before trying again)"
                                                   : ""));
        }
        if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
          // raftkvd's ports say what they serve; another server may say nothing.
          return grpc::Status(status.error_code(),
                              endpoint + " does not serve raftkv's client API" +
                                  (status.error_message().empty()
                                       ? " (is it a member's peer address rather than its client address?)"
                                       : ": " + status.error_message()));
        }
        if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return status;
        if (lasting_failure(status.error_message()) != LastingFailure::kNone) {
          return cannot_connect(endpoint, status.error_message());  // trying again cannot help
        }
        if (retry == Retry::kIfCertainlyNot &&
            context.GetServerTrailingMetadata().count(kv::kNotAppliedTrailer) == 0) {
          return grpc::Status(status.error_code(), status.error_message() +
                                                       " (the write may or may not have been applied; read "
                                                       "the key before trying again)");
        }
        said_before = endpoint + " said " + std::string(raft::status_code_name(status.error_code())) + ": " +
                      status.error_message();
        answered = true;
      }
      if (Clock::now() + backoff >= deadline_) {
        if (channel(endpoint).connection->GetState(false) != GRPC_CHANNEL_READY)
          status = grpc::Status(status.error_code(),
                                status.error_message() + " (is the member down, or " + tls_question_ + ")");
        if (!answered && !said_before.empty() &&
            status.error_message().find(said_before) == std::string::npos)
          status =
              grpc::Status(status.error_code(), status.error_message() + "; before that, " + said_before);
        return status;
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
  }

  api::KV::Stub& kv(const std::string& endpoint) { return *channel(endpoint).kv; }
  api::Admin::Stub& admin(const std::string& endpoint) { return *channel(endpoint).admin; }

 private:
  struct Channel {
    std::shared_ptr<grpc::Channel> connection;
    std::unique_ptr<api::KV::Stub> kv;
    std::unique_ptr<api::Admin::Stub> admin;
  };

  // Whether `endpoint` accepts a connection within a second (or the
  // deadline, if sooner).
  bool connect(const std::string& endpoint) {
    return channel(endpoint).connection->WaitForConnected(
        std::min(deadline_, Clock::now() + std::chrono::seconds(1)));
  }

  // A failure to connect that trying again cannot change, in words.
  grpc::Status cannot_connect(const std::string& endpoint, const std::string& grpc_message) const {
    const std::string why = lasting_failure(grpc_message) == LastingFailure::kHostUnknown
                                ? "its host name does not resolve"
                                : "the TLS handshake failed: " + tls_question_;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "cannot connect to " + endpoint + ": " + why + " (gRPC: " + grpc_message + ")");
  }

  // gRPC's reason why a read-only call to `endpoint` fails ("" if it
  // does not).
  std::string probe(const std::string& endpoint) {
    grpc::ClientContext context;
    context.set_deadline(std::min(deadline_, Clock::now() + std::chrono::seconds(1)));
    api::StatusResponse response;
    return admin(endpoint).Status(&context, api::StatusRequest(), &response).error_message();
  }

  Channel& channel(const std::string& endpoint) {
    Channel& found = channels_[endpoint];
    if (!found.kv) {
      found.connection = grpc::CreateChannel(endpoint, credentials_);
      found.kv = api::KV::NewStub(found.connection);
      found.admin = api::Admin::NewStub(found.connection);
    }
    return found;
  }

  // The leader's client address, asked of the endpoints; "" if none says.
  std::string find_leader() {
    for (const std::string& endpoint : endpoints_) {
      grpc::ClientContext context;
      context.set_deadline(std::min(deadline_, Clock::now() + std::chrono::milliseconds(500)));
      api::MemberListResponse members;
      if (!admin(endpoint).MemberList(&context, api::MemberListRequest(), &members).ok()) continue;
      grpc::ClientContext status_context;
      status_context.set_deadline(std::min(deadline_, Clock::now() + std::chrono::milliseconds(500)));
      api::StatusResponse status;
      if (!admin(endpoint).Status(&status_context, api::StatusRequest(), &status).ok()) continue;
      for (const api::Member& member : members.members()) {
        if (member.id() == status.leader() && !member.client_address().empty())
          return member.client_address();
      }
    }
    return {};
  }

  std::vector<std::string> endpoints_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::string tls_question_;
  Clock::time_point deadline_;
  std::map<std::string, Channel> channels_;
};

void print_members(const google::protobuf::RepeatedPtrField<api::Member>& members, bool boxed) {
  kvctl::Table table({"ID", "ROLE", "PEER ADDRESS", "CLIENT ADDRESS", "MATCH INDEX"});
  for (const api::Member& m : members) {
    table.add({std::to_string(m.id()), m.learner() ? "learner" : "voter", m.peer_address(),
               m.client_address(), m.match_index() == 0 ? "-" : std::to_string(m.match_index())});
  }
  table.print(boxed);
}

// Checks a backup file end to end (every frame's checksum, the end mark);
// returns what it holds, or says what is wrong with it.
raft::Result<raft::pb::SnapshotMetadata> verify_backup(const std::string& path) {
  auto file = raft::StandaloneSnapshotFile::open(path);
  if (!file.ok()) return file.error();
  auto metadata = raft::snapshot_file::read_metadata(*file.value(), 0);
  if (!metadata.ok()) return metadata.error();
  if (raft::Status intact = raft::snapshot_file::verify(*file.value(), metadata.value()); !intact.ok())
    return intact.error();
  return metadata;
}

// kvctl snapshot status: exit status 1 if the file is damaged.
int check_backup(const std::string& path, bool as_json) {
  const raft::Result<raft::pb::SnapshotMetadata> metadata = verify_backup(path);
  if (!metadata.ok()) {
    std::fprintf(stderr, "kvctl: %s is not a whole raftkv backup: %s\n", path.c_str(),
                 metadata.error().to_string().c_str());
    return 1;
  }
  const auto index = static_cast<unsigned long long>(metadata.value().index());
  const auto bytes = static_cast<unsigned long long>(metadata.value().size());
  if (as_json) {
    std::printf("{\"file\":%s,\"index\":%llu,\"bytes\":%llu}\n", kvctl::json_string(path).c_str(), index,
                bytes);
  } else {
    std::printf("%s: a whole backup at index %llu, %llu bytes\n", path.c_str(), index, bytes);
  }
  return 0;
}

int failed(const grpc::Status& status);

// One document for a command that asks every endpoint: an array of their
// answers, one per line.
void print_json_array(const std::vector<std::string>& documents) {
  std::printf("[");
  for (std::size_t i = 0; i < documents.size(); ++i)
    std::printf("%s\n%s", i == 0 ? "" : ",", documents[i].c_str());
  std::printf("\n]\n");
}

// Streams a backup from a member into PATH.part, makes it durable, checks
// it and renames it to PATH: PATH is a whole backup, or untouched.
int save_backup(Client& client, const std::string& path, bool as_json) {
  const std::string part = path + ".part";
  const grpc::Status status = client.call([&](const std::string& at, grpc::ClientContext& context) {
    std::FILE* out = std::fopen(part.c_str(), "wb");
    if (out == nullptr)
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "cannot write " + part + ": " + std::strerror(errno));
    auto stream = client.admin(at).SnapshotSave(&context, api::SnapshotSaveRequest());
    api::SnapshotChunk chunk;
    bool written = true;
    while (written && stream->Read(&chunk))
      written = std::fwrite(chunk.data().data(), 1, chunk.data().size(), out) == chunk.data().size();
    if (!written) context.TryCancel();
    grpc::Status finished = stream->Finish();
    written = written && std::fflush(out) == 0 && fsync(fileno(out)) == 0;
    written = std::fclose(out) == 0 && written;
    if (finished.ok() && !written)
      finished = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                              "cannot write " + part + ": " + std::strerror(errno));
    return finished;
  });
  if (!status.ok()) {
    std::remove(part.c_str());
    return failed(status);
  }
  // What was written is read back and checked before it replaces PATH.
  if (const auto checked = verify_backup(part); !checked.ok()) {
    std::fprintf(stderr, "kvctl: the backup received is damaged: %s\n", checked.error().to_string().c_str());
    std::remove(part.c_str());
    return 1;
  }
  if (std::rename(part.c_str(), path.c_str()) != 0) {
    std::fprintf(stderr, "kvctl: cannot rename %s to %s: %s\n", part.c_str(), path.c_str(),
                 std::strerror(errno));
    std::remove(part.c_str());
    return 1;
  }
  return check_backup(path, as_json);
}

int failed(const grpc::Status& status) {
  std::fprintf(stderr, "kvctl: %s: %s\n", raft::status_code_name(status.error_code()),
               status.error_message().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // gRPC's own log lines (a refused handshake, a failed lookup) would reach
  // the user's terminal raw; kvctl says what failed itself, in one line.
  gpr_set_log_function([](gpr_log_func_args*) {});
  Options options;
  CLI::App app{"kvctl: the command-line client of raftkv"};
  app.require_subcommand(1);
  app.fallthrough();  // -o and --endpoints may also follow the subcommand, as in etcdctl
  app.set_version_flag("--version", "kvctl " RAFTKV_VERSION);
  app.add_option("--endpoints", options.endpoints, "members' client addresses, HOST:PORT,...")
      ->envname("KVCTL_ENDPOINTS")
      ->capture_default_str();
  app.add_option("--discovery-srv", options.discovery_srv,
                 "find the endpoints in the SRV records of _raftkv-client._tcp.DOMAIN (replaces --endpoints)")
      ->envname("KVCTL_DISCOVERY_SRV");
  app.add_option("--dns-server", options.dns_server, "HOST:PORT of the DNS server (default: the system's)")
      ->envname("KVCTL_DNS_SERVER");
  app.add_option("--cacert", options.cacert, "TLS: verify the members' certificates against this CA (PEM)")
      ->envname("KVCTL_CACERT");
  app.add_option("--cert", options.cert, "TLS: present this client certificate (PEM)")->envname("KVCTL_CERT");
  app.add_option("--key", options.key, "TLS: the client certificate's private key (PEM)")
      ->envname("KVCTL_KEY");
  app.add_option("-o,-w,--output,--write-out", options.output, "simple, json or table")
      ->check(CLI::IsMember({"simple", "json", "table"}))
      ->capture_default_str();
  app.add_option("--command-timeout", options.command_timeout,
                 "time for the whole command, retries included: 5, 5s, 500ms, 1m")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            return parse_duration_seconds(text) > 0 ? ""
                                                    : "'" + text + "' is not a duration (5, 5s, 500ms, 1m)";
          },
          "DURATION"))
      ->capture_default_str();

  std::string key, value, expected, range_end, value_file, sort_by, order;
  bool prefix = false, from_key = false, keys_only = false, count_only = false, serializable = false;
  bool print_value_only = false, prev_kv = false;
  std::int64_t limit = 0;
  std::uint64_t target = 0;
  CLI::App* put = app.add_subcommand(
      "put", "put KEY [VALUE]: set KEY; without VALUE, or with -, the value is read from standard input");
  put->add_option("key", key)->required();
  CLI::Option* value_option = put->add_option("value", value, "the value (-: read it from standard input)");
  put->add_option("--from-file", value_file, "read the value from FILE")
      ->check(CLI::ExistingFile)
      ->excludes(value_option);
  put->add_flag("--prev-kv", prev_kv, "also print the key and value it replaced");
  CLI::App* get = app.add_subcommand(
      "get", "get KEY [RANGE_END]: KEY, the keys in [KEY, RANGE_END), or with --prefix / --from-key more");
  add_key_range(*get, key, range_end, prefix, from_key);
  get->add_option("--limit", limit, "at most N keys (0: all)")->check(at_least(0));
  get->add_flag("--keys-only", keys_only, "keys without values");
  get->add_flag("--count-only", count_only, "only how many keys");
  get->add_flag("--print-value-only", print_value_only, "values without keys");
  get->add_option("--sort-by", sort_by, "KEY, VALUE, CREATE, MODIFY or VERSION (ascending unless --order)")
      ->check(CLI::IsMember({"KEY", "VALUE", "CREATE", "MODIFY", "VERSION"}, CLI::ignore_case));
  get->add_option("--order", order, "ASCEND or DESCEND (by key unless --sort-by)")
      ->check(CLI::IsMember({"ASCEND", "DESCEND"}, CLI::ignore_case));
  get->add_flag("--serializable", serializable,
                "answer from the first endpoint's own state, not the leader's (may be stale)");
  CLI::App* del = app.add_subcommand(
      "del",
      "del KEY [RANGE_END]: delete KEY, the keys in [KEY, RANGE_END), or with --prefix / --from-key more");
  add_key_range(*del, key, range_end, prefix, from_key);
  del->add_flag("--prev-kv", prev_kv, "also print the keys and values deleted");
  CLI::App* cas = app.add_subcommand("cas", "cas KEY EXPECTED NEW: set KEY to NEW if its value is EXPECTED");
  cas->add_option("key", key)->required();
  cas->add_option("expected", expected)->required();
  cas->add_option("new", value)->required();
  CLI::App* member = app.add_subcommand("member", "member list | add | promote | remove");
  CLI::App* member_list = member->add_subcommand(
      "list", "the members: id, voter or learner, addresses, match index (leader's view)");
  std::string peer_address, client_address;
  bool learner = false;
  CLI::App* member_add = member->add_subcommand(
      "add",
      "add member ID, reached by its peers at PEER-ADDR: it joins as a learner and, unless --learner, is "
      "promoted to voter once it has caught up (default --command-timeout 60 s)");
  member_add->add_option("id", target)->required()->check(at_least(1));
  member_add->add_option("peer-addr", peer_address, "HOST:PORT of the new member's peer port")->required();
  member_add->add_option("--client-addr", client_address, "HOST:PORT of the new member's client port");
  member_add->add_flag("--learner", learner, "stay a learner (promote it later)");
  CLI::App* member_promote = member->add_subcommand("promote", "make learner ID a voter (once caught up)");
  member_promote->add_option("id", target)->required()->check(at_least(1));
  CLI::App* member_remove = member->add_subcommand("remove", "remove member ID from the cluster");
  member_remove->add_option("id", target)->required()->check(at_least(1));
  member->require_subcommand(1);
  CLI::App* endpoint = app.add_subcommand("endpoint", "endpoint status | endpoint health | endpoint hash");
  bool whole_cluster = false;
  endpoint->add_flag("--cluster", whole_cluster,
                     "every member's client address from the member list, instead of the endpoints given");
  CLI::App* endpoint_status = endpoint->add_subcommand("status", "each endpoint's Raft status");
  CLI::App* endpoint_health = endpoint->add_subcommand("health", "whether each endpoint can serve");
  CLI::App* endpoint_hash = endpoint->add_subcommand(
      "hash", "each endpoint's state digest and applied index (equal indexes must have equal digests)");
  endpoint->require_subcommand(1);
  CLI::App* snapshot = app.add_subcommand("snapshot", "snapshot save FILE | snapshot status FILE");
  std::string snapshot_file;
  CLI::App* snapshot_save = snapshot->add_subcommand(
      "save", "write a consistent backup of the cluster's data from a member to FILE (raftkvd --restore)");
  snapshot_save->add_option("file", snapshot_file)->required();
  CLI::App* snapshot_status = snapshot->add_subcommand("status", "check a backup FILE and say what it holds");
  snapshot_status->add_option("file", snapshot_file)->required();
  snapshot->require_subcommand(1);
  CLI::App* leader = app.add_subcommand("leader", "leader transfer ID");
  CLI::App* leader_transfer = leader->add_subcommand("transfer", "hand leadership to member ID");
  leader_transfer->add_option("id", target)->required()->check(at_least(1));
  leader->require_subcommand(1);

  kvctl::BenchOptions bench_options;
  std::string bench_target = "raftkv", consistency = "l";
  bool no_progress = false;
  CLI::App* bench =
      app.add_subcommand("bench", "bench put|get|mixed: a closed-loop load (after etcd's benchmark)");
  bench->require_subcommand(1);
  bench->add_option("--target", bench_target, "the API to speak: raftkv, or etcd's v3 KV (to compare)")
      ->check(CLI::IsMember({"raftkv", "etcd"}))
      ->capture_default_str();
  bench->add_option("--clients", bench_options.clients, "concurrent clients, one request in flight each")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  bench
      ->add_option("--conns", bench_options.connections,
                   "connections the clients share (round-robin over endpoints)")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  bench->add_option("--key-space-size", bench_options.key_space, "keys are drawn uniformly from this many")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000'000'000}))
      ->capture_default_str();
  bench->add_option("--key-size", bench_options.key_size, "bytes per key")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  bench->add_option("--val-size", bench_options.value_size, "bytes per value")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  bench->add_option("--consistency", consistency, "reads: l (linearizable) or s (serializable)")
      ->check(CLI::IsMember({"l", "s"}))
      ->capture_default_str();
  bench->add_option("--duration", bench_options.duration_s, "seconds to measure (unless --total)")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  bench->add_option("--total", bench_options.total, "measured operations, instead of --duration")
      ->check(at_least(1));
  bench->add_option("--warmup", bench_options.warmup_s, "seconds of unmeasured load first")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  bench->add_flag("--no-progress", no_progress, "no progress line on a terminal");
  CLI::App* bench_put = bench->add_subcommand("put", "writes only");
  CLI::App* bench_get = bench->add_subcommand("get", "reads only");
  CLI::App* bench_mixed = bench->add_subcommand("mixed", "reads and writes");
  bench_mixed->add_option("--read-ratio", bench_options.read_ratio, "share of reads")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  // A subcommand's --help lists its own options; the global ones work
  // after it too (fallthrough), so say which they are.
  const std::function<void(CLI::App*)> add_footer = [&](CLI::App* command) {
    for (CLI::App* sub : command->get_subcommands({})) {
      sub->footer(
          "Global options (before or after the command; kvctl --help for details): --endpoints, "
          "--discovery-srv, --dns-server, --cacert, --cert, --key, -o/-w/--write-out, --command-timeout");
      add_footer(sub);
    }
  };
  add_footer(&app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::CallForVersion& version) {
    return app.exit(version);
  } catch (const CLI::ParseError& error) {
    std::fprintf(stderr, "kvctl: %s\n", error.what());
    return 2;
  }
  // etcdctl takes them in any case.
  for (std::string* upper : {&sort_by, &order}) {
    std::transform(upper->begin(), upper->end(), upper->begin(),
                   [](unsigned char c) { return std::toupper(c); });
  }
  std::vector<std::string> endpoints;
  if (!options.discovery_srv.empty()) {
    endpoints = discover_endpoints(options);
    if (endpoints.empty()) return 1;
  } else {
    endpoints = split(options.endpoints);
    if (endpoints.empty()) {
      std::fprintf(stderr, "kvctl: no endpoints given\n");
      return 2;
    }
  }
  const bool as_json = options.output == "json";
  const bool boxed = options.output == "table";  // else aligned columns (simple)
  if (bench->parsed()) {
    if (std::to_string(bench_options.key_space - 1).size() >
        static_cast<std::size_t>(bench_options.key_size)) {
      std::fprintf(stderr, "kvctl: bench: %llu keys do not fit in keys of %d bytes (decimal, zero-padded)\n",
                   static_cast<unsigned long long>(bench_options.key_space), bench_options.key_size);
      return 2;
    }
    bench_options.workload = bench_put->parsed()   ? kvctl::BenchOptions::Workload::kPut
                             : bench_get->parsed() ? kvctl::BenchOptions::Workload::kGet
                                                   : kvctl::BenchOptions::Workload::kMixed;
    bench_options.target =
        bench_target == "etcd" ? kvctl::BenchOptions::Target::kEtcd : kvctl::BenchOptions::Target::kRaftkv;
    bench_options.endpoints = endpoints;
    bench_options.credentials = channel_credentials(options);
    bench_options.serializable = consistency == "s";
    bench_options.json = as_json;
    bench_options.progress = !no_progress;
    return kvctl::run_bench(bench_options);
  }
  if (snapshot_status->parsed()) return check_backup(snapshot_file, as_json);
  // A backup takes as long as its data takes to stream: allow it ten minutes.
  double command_timeout_s = parse_duration_seconds(options.command_timeout);
  if (snapshot_save->parsed() && app.count("--command-timeout") == 0) command_timeout_s = 600;
  // A new voter first catches up, by snapshot if need be: allow it a minute.
  if (member_add->parsed() && !learner && app.count("--command-timeout") == 0) command_timeout_s = 60;
  const std::string tls_question =
      options.cacert.empty() && options.cert.empty()
          ? "does it use TLS? then give --cacert, and --cert and --key if it requires client certificates"
      : options.cert.empty()
          ? "does it require a client certificate (--cert, --key), or is its certificate not "
            "signed by the --cacert CA or not for this address?"
          : "is its certificate not signed by the --cacert CA or not for this address, or "
            "does it not trust the CA of --cert?";
  Client client(endpoints, channel_credentials(options), tls_question,
                std::chrono::milliseconds(static_cast<long>(command_timeout_s * 1000)));

  if (put->parsed()) {
    api::PutRequest request;
    request.set_key(key);
    if (value_file.empty() && value_option->count() == 0 && isatty(STDIN_FILENO) == 1) {
      std::fprintf(stderr,
                   "kvctl: put: no VALUE (give one, or - to type it, or --from-file FILE, or pipe it in)\n");
      return 2;
    }
    if (!value_file.empty() || value_option->count() == 0 || value == "-") {
      std::string read_error;
      if (!read_all(value_file, *request.mutable_value(), read_error)) {
        std::fprintf(stderr, "kvctl: put: %s\n", read_error.c_str());
        return 2;
      }
    } else {
      request.set_value(value);
    }
    request.set_prev_kv(prev_kv);
    api::PutResponse response;
    const grpc::Status status = client.call(
        [&](const std::string& at, grpc::ClientContext& context) {
          return client.kv(at).Put(&context, request, &response);
        },
        Client::Retry::kIfCertainlyNot);
    if (!status.ok()) return failed(status);
    if (as_json) {
      std::printf("%s\n", json(response).c_str());
      return 0;
    }
    std::printf("OK\n");
    if (response.has_prev_kv()) print_key_value(response.prev_kv(), false);
    return 0;
  }
  if (get->parsed()) {
    const KeyRange range = key_range(key, range_end, prefix, from_key);
    api::RangeRequest request;
    request.set_key(range.key);
    request.set_range_end(range.end);
    // Sorted by anything but ascending key (the store's order), the whole
    // range is fetched, sorted here, and the limit applied after: the
    // first N by that order, as etcd answers.
    const bool sorted = !sort_by.empty() || !order.empty();
    const bool store_order = (sort_by.empty() || sort_by == "KEY") && order != "DESCEND";
    request.set_limit(sorted && !store_order && !count_only ? 0 : limit);
    request.set_keys_only(keys_only);
    request.set_count_only(count_only);
    request.set_serializable(serializable);
    api::RangeResponse response;
    const grpc::Status status = client.call(
        [&](const std::string& at, grpc::ClientContext& context) {
          return client.kv(at).Range(&context, request, &response);
        },
        Client::Retry::kAlways, serializable ? Client::Route::kAsGiven : Client::Route::kLeaderFirst);
    if (!status.ok()) return failed(status);
    if (sorted && !store_order && !count_only) {
      sort_key_values(*response.mutable_kvs(), sort_by.empty() ? "KEY" : sort_by, order == "DESCEND");
      if (limit > 0 && response.kvs_size() > limit) {
        response.mutable_kvs()->DeleteSubrange(static_cast<int>(limit),
                                               response.kvs_size() - static_cast<int>(limit));
        response.set_more(true);
      }
    }
    if (as_json) {
      std::printf("%s\n", json(response).c_str());
    } else if (count_only) {
      std::printf("%llu\n", static_cast<unsigned long long>(response.count()));
    } else {
      for (const api::KeyValue& kv : response.kvs()) {
        if (print_value_only) {
          print_line(kv.value());
        } else {
          print_key_value(kv, keys_only);
        }
      }
    }
    return 0;
  }
  if (del->parsed()) {
    const KeyRange range = key_range(key, range_end, prefix, from_key);
    api::DeleteRequest request;
    request.set_key(range.key);
    request.set_range_end(range.end);
    request.set_prev_kv(prev_kv);
    api::DeleteResponse response;
    const grpc::Status status = client.call(
        [&](const std::string& at, grpc::ClientContext& context) {
          return client.kv(at).Delete(&context, request, &response);
        },
        Client::Retry::kIfCertainlyNot);
    if (!status.ok()) return failed(status);
    if (as_json) {
      std::printf("%s\n", json(response).c_str());
    } else {
      std::printf("%llu\n", static_cast<unsigned long long>(response.deleted()));
      for (const api::KeyValue& kv : response.prev_kvs()) print_key_value(kv, false);
    }
    return 0;
  }
  if (cas->parsed()) {
    api::TxnRequest request;
    api::Compare* compare = request.add_compare();
    compare->set_key(key);
    compare->set_target(api::Compare::VALUE);
    compare->set_result(api::Compare::EQUAL);
    compare->set_value(expected);
    api::PutRequest* swap = request.add_success()->mutable_put();
    swap->set_key(key);
    swap->set_value(value);
    api::TxnResponse response;
    const grpc::Status status = client.call(
        [&](const std::string& at, grpc::ClientContext& context) {
          return client.kv(at).Txn(&context, request, &response);
        },
        Client::Retry::kIfCertainlyNot);
    if (!status.ok()) return failed(status);
    std::printf("%s\n", as_json ? json(response).c_str() : "OK");
    return 0;
  }
  if (member_list->parsed()) {
    api::MemberListResponse response;
    const grpc::Status status = client.call([&](const std::string& at, grpc::ClientContext& context) {
      return client.admin(at).MemberList(&context, api::MemberListRequest(), &response);
    });
    if (!status.ok()) return failed(status);
    if (as_json) {
      std::printf("%s\n", json(response).c_str());
      return 0;
    }
    print_members(response.members(), boxed);
    if (!response.configuration_committed()) {
      std::printf("(the change at log index %llu has not committed yet)\n",
                  static_cast<unsigned long long>(response.configuration_index()));
    }
    return 0;
  }
  if (member_add->parsed() || member_promote->parsed() || member_remove->parsed()) {
    api::MemberChangeResponse response;
    const grpc::Status status = client.call([&](const std::string& at, grpc::ClientContext& context) {
      if (member_add->parsed()) {
        api::MemberAddRequest request;
        request.set_id(target);
        request.set_peer_address(peer_address);
        request.set_client_address(client_address);
        request.set_learner(learner);
        return client.admin(at).MemberAdd(&context, request, &response);
      }
      if (member_promote->parsed()) {
        api::MemberPromoteRequest request;
        request.set_id(target);
        return client.admin(at).MemberPromote(&context, request, &response);
      }
      api::MemberRemoveRequest request;
      request.set_id(target);
      return client.admin(at).MemberRemove(&context, request, &response);
    });
    if (!status.ok()) return failed(status);
    if (as_json) {
      std::printf("%s\n", json(response).c_str());
      return 0;
    }
    const char* what = member_add->parsed()       ? (learner ? "added as a learner" : "added as a voter")
                       : member_promote->parsed() ? "promoted to voter"
                                                  : "removed";
    std::printf("member %llu %s\n", static_cast<unsigned long long>(target), what);
    print_members(response.members(), boxed);
    return 0;
  }
  if (endpoint->parsed() && whole_cluster) {
    // etcdctl's --cluster: the members' client addresses, as the member
    // list names them, replace the endpoints given.
    api::MemberListResponse members;
    const grpc::Status status = client.call([&](const std::string& at, grpc::ClientContext& context) {
      return client.admin(at).MemberList(&context, api::MemberListRequest(), &members);
    });
    if (!status.ok()) return failed(status);
    std::vector<std::string> addresses;
    for (const api::Member& listed : members.members()) {
      if (listed.client_address().empty()) {
        std::fprintf(stderr, "kvctl: member %llu has no client address in the member list; left out\n",
                     static_cast<unsigned long long>(listed.id()));
      } else {
        addresses.push_back(listed.client_address());
      }
    }
    client.set_endpoints(std::move(addresses));
  }
  if (endpoint_hash->parsed()) {
    // Like `etcdctl endpoint hashkv`: compare replicas. Exit 1 if any did
    // not answer.
    int result = 0;
    kvctl::Table table({"ENDPOINT", "ID", "APPLIED", "KEYS", "DIGEST", "ERROR"});
    std::vector<std::string> documents;
    for (const std::string& at : client.endpoints()) {
      grpc::ClientContext context;
      context.set_deadline(client.deadline());
      api::StatusRequest request;
      request.set_with_state_digest(true);
      api::StatusResponse response;
      const grpc::Status status = client.admin(at).Status(&context, request, &response);
      if (!status.ok()) result = 1;
      char digest[17];
      std::snprintf(digest, sizeof digest, "%016llx",
                    static_cast<unsigned long long>(response.state().digest()));
      if (as_json) {
        // The digest in hex as in the table: an identifier, not a quantity
        // (and past the integers a JavaScript number holds exactly).
        documents.push_back("{\"endpoint\":" + kvctl::json_string(at) + ",\"member_id\":" +
                            (status.ok() ? std::to_string(response.header().member_id()) : "null") +
                            ",\"applied_index\":" +
                            (status.ok() ? std::to_string(response.state().applied_index()) : "null") +
                            ",\"keys\":" + (status.ok() ? std::to_string(response.state().keys()) : "null") +
                            ",\"digest\":" + (status.ok() ? kvctl::json_string(digest) : "null") +
                            ",\"error\":" + kvctl::json_string(status.error_message()) + "}");
      } else if (status.ok()) {
        table.add({at, std::to_string(response.header().member_id()),
                   std::to_string(response.state().applied_index()), std::to_string(response.state().keys()),
                   digest, ""});
      } else {
        table.add({at, "", "", "", "", status.error_message()});
      }
    }
    if (as_json) {
      print_json_array(documents);
    } else {
      table.print(boxed);
    }
    return result;
  }
  if (endpoint_status->parsed() || endpoint_health->parsed()) {
    // Every endpoint, not just one: a table across the cluster, like
    // `etcdctl endpoint status -w table`. Exit 1 if any did not answer.
    int result = 0;
    std::vector<std::string> documents;
    kvctl::Table table(endpoint_status->parsed()
                           ? std::vector<std::string>{"ENDPOINT", "ID", "LEADER", "IS LEADER", "TERM",
                                                      "COMMIT", "APPLIED", "LOG", "DATA", "VERSION", "ERROR"}
                           : std::vector<std::string>{"ENDPOINT", "HEALTH", "TOOK", "ERROR"});
    for (const std::string& at : client.endpoints()) {
      grpc::ClientContext context;
      context.set_deadline(client.deadline());
      const auto started = std::chrono::steady_clock::now();
      if (endpoint_status->parsed()) {
        api::StatusResponse response;
        const grpc::Status status = client.admin(at).Status(&context, api::StatusRequest(), &response);
        if (!status.ok()) result = 1;
        if (as_json) {
          documents.push_back("{\"endpoint\":" + kvctl::json_string(at) +
                              ",\"status\":" + (status.ok() ? json(response) : "null") +
                              ",\"error\":" + kvctl::json_string(status.error_message()) + "}");
          continue;
        }
        // An endpoint that did not answer has blanks, not zeros that
        // could pass for a member's numbers.
        const auto shown = [&](std::uint64_t number) { return status.ok() ? std::to_string(number) : ""; };
        const std::string log =
            status.ok() ? shown(response.first_log_index()) + ".." + shown(response.last_log_index()) : "";
        table.add({at, shown(response.header().member_id()), shown(response.leader()),
                   status.ok() ? (response.leader() == response.header().member_id() ? "true" : "false") : "",
                   shown(response.header().term()), shown(response.commit_index()),
                   shown(response.applied_index()), log,
                   status.ok() ? std::to_string(response.data_bytes() >> 10) + " KiB" : "",
                   response.version(), status.error_message()});
      } else {
        api::HealthResponse response;
        const grpc::Status status = client.admin(at).Health(&context, api::HealthRequest(), &response);
        const double took_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
        const bool healthy = status.ok() && response.healthy();
        if (!healthy) result = 1;
        const std::string error = status.ok() ? response.reason() : status.error_message();
        if (as_json) {
          char took[32];
          std::snprintf(took, sizeof took, "%.1f", took_ms);
          documents.push_back("{\"endpoint\":" + kvctl::json_string(at) +
                              ",\"health\":" + (healthy ? "true" : "false") + ",\"took_ms\":" + took +
                              ",\"error\":" + kvctl::json_string(error) + "}");
          continue;
        }
        char took[32];
        std::snprintf(took, sizeof took, "%.1fms", took_ms);
        table.add({at, healthy ? "true" : "false", took, error});
      }
    }
    if (as_json) {
      print_json_array(documents);
    } else {
      table.print(boxed);
    }
    return result;
  }
  if (snapshot_save->parsed()) return save_backup(client, snapshot_file, as_json);
  if (leader_transfer->parsed()) {
    api::TransferLeadershipRequest request;
    request.set_target(target);
    api::TransferLeadershipResponse response;
    const grpc::Status status = client.call([&](const std::string& at, grpc::ClientContext& context) {
      return client.admin(at).TransferLeadership(&context, request, &response);
    });
    if (!status.ok()) return failed(status);
    std::printf("%s\n", as_json ? json(response).c_str() : "OK");
    return 0;
  }
  return 2;
}
