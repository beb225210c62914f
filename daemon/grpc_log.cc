#include "daemon/grpc_log.h"

#include <grpc/support/log.h>
#include <spdlog/spdlog.h>

#include <string>

namespace raftkv {

namespace {

bool is_refused_handshake(const std::string& message) {
  return message.rfind("Handshake failed", 0) == 0;
}

// What the log says for one line of gRPC's: `message` as gRPC wrote it,
// rewritten in words when it is a refused TLS handshake.
std::string grpc_log_line(const std::string& message) {
  // gRPC's line: "Handshake failed with fatal error SSL_ERROR_SSL: <OpenSSL's error>."
  if (!is_refused_handshake(message)) return "gRPC: " + message;
  std::string what;
  if (message.find("peer did not return a certificate") != std::string::npos) {
    what =
        "a TLS handshake was refused: the connecting side sent no certificate, and this member requires one "
        "(of clients with --client-cert-auth, of peers always); give it a certificate the trusted CA signed";
  } else if (message.find("certificate verify failed") != std::string::npos) {
    what =
        "a TLS handshake failed: the other side's certificate is not signed by the CA this member trusts, "
        "or has expired, or is not valid yet; check its CA and its dates";
  } else if (message.find("wrong version number") != std::string::npos ||
             message.find("http request") != std::string::npos) {
    what = "a TLS handshake failed: the other side does not speak TLS (a plaintext client or peer?)";
  } else {
    what = "a TLS handshake failed";
  }
  return what + " [gRPC: " + message + "]";
}

}  // namespace

void route_grpc_log_to_spdlog() {
  gpr_set_log_function([](gpr_log_func_args* args) {
    const std::string message = args->message != nullptr ? args->message : "";
    const std::string line = grpc_log_line(message);
    switch (args->severity) {
      case GPR_LOG_SEVERITY_ERROR:
        // A refused handshake is the other side's problem: a warning.
        if (is_refused_handshake(message)) {
          spdlog::warn("{}", line);
        } else {
          spdlog::error("{} ({}:{})", line, args->file, args->line);
        }
        break;
      case GPR_LOG_SEVERITY_INFO: spdlog::info("{}", line); break;
      default: spdlog::debug("{}", line); break;
    }
  });
}

}  // namespace raftkv
