#include "daemon/metrics_server.h"

#include <httplib.h>
#include <sys/socket.h>

namespace raftkv {

raft::Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& address,
                                                                  std::function<std::string()> render) {
  const auto invalid = [&](const std::string& why) {
    return raft::Error{raft::ErrorCode::kInvalidArgument, "cannot serve metrics on " + address + ": " + why};
  };
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return invalid("give HOST:PORT");
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = -1;
  try {
    std::size_t used = 0;
    port = std::stoi(address.substr(colon + 1), &used);
    if (used != address.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
  }
  if (port < 0 || port > 65535) return invalid("the port is not a number from 0 to 65535");

  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->http_ = std::make_unique<httplib::Server>();
  // httplib's default sets SO_REUSEPORT, which would let a second member on
  // the same port silently share it; SO_REUSEADDR alone refuses a busy port
  // and still allows a quick restart.
  server->http_->set_socket_options([](int socket) {
    const int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server->http_->Get("/metrics",
                     [render = std::move(render)](const httplib::Request&, httplib::Response& response) {
                       response.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
                     });
  server->port_ = port == 0 ? server->http_->bind_to_any_port(host)
                            : (server->http_->bind_to_port(host, port) ? port : -1);
  if (server->port_ <= 0) return invalid("a bad or busy address");
  server->thread_ = std::thread([http = server->http_.get()] { http->listen_after_bind(); });
  // stop() only ends a server that is running: wait until it is, so that a
  // member stopping right after it started cannot leave the thread behind.
  while (!server->http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return server;
}

MetricsServer::~MetricsServer() {
  if (http_ != nullptr) http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace raftkv
