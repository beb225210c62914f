#pragma once
// Debian's dnsmasq as a real DNS server for tests: it serves one zone on
// 127.0.0.1 at an unprivileged port -- SRV records from its config file, A
// records from a hosts file that move_host() rewrites and has dnsmasq
// re-read (SIGHUP) -- answering nothing outside the zone. The process is
// killed by PID when the object goes (ChildProcess).

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "raft/dns_resolver.h"
#include "tests/integration/child_process.h"
#include "tests/integration/free_port.h"
#include "tests/unit/eventually.h"

namespace raft::testing {

class Dnsmasq {
 public:
  static constexpr char kBinary[] = "/usr/sbin/dnsmasq";

  struct Srv {
    std::string name;    // "_raftkv-peer._tcp.raftkv.test"
    std::string target;  // "node-0.raftkv.test"
    int port;
  };

  // Starts dnsmasq for `zone` in `directory` and waits until it answers.
  Dnsmasq(const std::string& directory, const std::string& zone, const std::vector<Srv>& records,
          std::map<std::string, std::string> hosts)
      : directory_(directory), hosts_(std::move(hosts)), port_(free_port()) {
    write_hosts();
    std::ofstream config(directory_ + "/dnsmasq.conf");
    config << "port=" << port_ << "\n"
           << "listen-address=127.0.0.1\nbind-interfaces\n"
           << "no-resolv\nno-hosts\nno-poll\n"
           << "local=/" << zone << "/\n"  // NXDOMAIN for the rest of the zone; nothing forwarded
           << "addn-hosts=" << directory_ << "/hosts\n"
           << "user=root\npid-file=\n"
           << "log-queries\nlog-facility=" << directory_ << "/dnsmasq.log\n";
    for (const Srv& record : records) {
      config << "srv-host=" << record.name << "," << record.target << "," << record.port << "\n";
    }
    config.close();
    process_ = std::make_unique<ChildProcess>(std::vector<std::string>{
        kBinary, "--keep-in-foreground", "--conf-file=" + directory_ + "/dnsmasq.conf"});
    auto resolver = DnsResolver::create({address(), std::chrono::milliseconds(200), 1});
    ready_ =
        resolver.ok() && eventually([&] { return resolver.records->addresses(hosts_.begin()->first).ok(); });
  }

  static bool installed() { return access(kBinary, X_OK) == 0; }
  bool ready() const { return ready_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string log() const { return directory_ + "/dnsmasq.log"; }

  // Points `host`'s A record at `address` and waits until dnsmasq says so.
  bool move_host(const std::string& host, const std::string& address_now) {
    hosts_[host] = address_now;
    write_hosts();
    process_->send_signal(SIGHUP);
    auto resolver = DnsResolver::create({address(), std::chrono::milliseconds(200), 1});
    return resolver.ok() && eventually([&] {
             DnsAnswer<std::vector<std::string>> found = resolver.records->addresses(host);
             return found.ok() && found.records.front() == address_now;
           });
  }

 private:
  void write_hosts() {
    std::ofstream file(directory_ + "/hosts");
    for (const auto& [host, address] : hosts_) file << address << " " << host << "\n";
  }

  std::string directory_;
  std::map<std::string, std::string> hosts_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
  bool ready_ = false;
};

}  // namespace raft::testing
