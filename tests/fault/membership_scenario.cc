#include "tests/fault/membership_scenario.h"

#include <grpcpp/grpcpp.h>

#include <functional>
#include <set>
#include <thread>

namespace raftkv::fault {

namespace api = raftkv::api;
using Clock = std::chrono::steady_clock;

namespace {

// How long one change may take, catching up by snapshot included.
constexpr std::chrono::seconds kChangeBound{90};

class Scenario {
 public:
  Scenario(FaultCluster& cluster, Clock::time_point origin, std::vector<std::string>& violations)
      : cluster_(cluster), origin_(origin), violations_(violations) {}

  std::vector<FaultEvent> run() {
    pause(std::chrono::seconds(2));  // the clients get going on three members
    for (int member : {4, 5}) {
      step("add member " + std::to_string(member) + " (empty) as a voter", [&] {
        cluster_.start(member, /*join=*/true);
        return add(member);
      });
    }
    step("check five voters", [&] { return expect_voters({1, 2, 3, 4, 5}); });
    pause(std::chrono::seconds(2));
    step("kill member 2", [&] {
      cluster_.kill(2);
      return true;
    });
    pause(std::chrono::seconds(2));
    step("remove failed member 2", [&] { return remove(2); });
    step("add member 6 (empty) in its place", [&] {
      cluster_.start(6, /*join=*/true);
      return add(6);
    });
    pause(std::chrono::seconds(2));
    // The leader removes itself: it hands over and steps down once its
    // removal commits (§4.2.2), and must then learn it was removed.
    step("hand leadership to member 5", [&] { return transfer_to(5); });
    for (int member : {5, 4}) {
      step("remove member " + std::to_string(member), [&] {
        if (!remove(member)) return false;
        const bool refuses = says_removed(member);
        cluster_.kill(member);
        return refuses;
      });
    }
    step("check three voters", [&] { return expect_voters({1, 3, 6}); });
    pause(std::chrono::seconds(3));  // the clients go on with the three
    return events_;
  }

 private:
  void pause(std::chrono::seconds how_long) { std::this_thread::sleep_for(how_long); }

  void step(const std::string& what, const std::function<bool()>& action) {
    FaultEvent event;
    event.what = what;
    event.start = since_origin();
    const bool ok = action();
    event.end = since_origin();
    events_.push_back(event);
    if (!ok) violations_.push_back("membership step failed: " + what + ": " + last_error_);
  }

  std::int64_t since_origin() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - origin_).count();
  }

  api::Admin::Stub& admin(int member) {
    auto& stub = stubs_[member];
    if (!stub) {
      stub = api::Admin::NewStub(
          grpc::CreateChannel(FaultCluster::client_address(member), grpc::InsecureChannelCredentials()));
    }
    return *stub;
  }

  // The member list as the leader sees it, asked of any running member.
  std::optional<api::MemberListResponse> members() {
    for (int member = 1; member <= cluster_.members(); ++member) {
      if (!cluster_.running(member)) continue;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      api::MemberListResponse response;
      if (admin(member).MemberList(&context, api::MemberListRequest(), &response).ok() &&
          response.configuration_committed()) {
        return response;
      }
    }
    return std::nullopt;
  }

  // Sends `call` to running members in turn until one succeeds or the
  // member list shows `done`, for at most kChangeBound. Refusals that pass
  // (another change still committing, a learner still catching up, an
  // election) are retried; the last error is kept for the report.
  bool change(const std::function<grpc::Status(api::Admin::Stub&, grpc::ClientContext&)>& call,
              const std::function<bool(const api::MemberListResponse&)>& done) {
    const Clock::time_point deadline = Clock::now() + kChangeBound;
    for (int member = 1; Clock::now() < deadline; member = member % cluster_.members() + 1) {
      if (!cluster_.running(member)) continue;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      const grpc::Status status = call(admin(member), context);
      if (status.ok()) return true;
      last_error_ = "m" + std::to_string(member) + ": " + status.error_message();
      if (const auto list = members(); list && done(*list)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    return false;
  }

  static const api::Member* find(const api::MemberListResponse& list, int member) {
    for (const api::Member& known : list.members()) {
      if (known.id() == static_cast<std::uint64_t>(member)) return &known;
    }
    return nullptr;
  }

  bool add(int member) {
    return change(
        [&](api::Admin::Stub& stub, grpc::ClientContext& context) {
          api::MemberAddRequest request;
          request.set_id(static_cast<std::uint64_t>(member));
          request.set_peer_address(FaultCluster::peer_address(member));
          request.set_client_address(FaultCluster::client_address(member));
          api::MemberChangeResponse response;
          return stub.MemberAdd(&context, request, &response);
        },
        [&](const api::MemberListResponse& list) {
          const api::Member* added = find(list, member);
          return added != nullptr && !added->learner();
        });
  }

  bool transfer_to(int member) {
    return change(
        [&](api::Admin::Stub& stub, grpc::ClientContext& context) {
          api::TransferLeadershipRequest request;
          request.set_target(static_cast<std::uint64_t>(member));
          api::TransferLeadershipResponse response;
          return stub.TransferLeadership(&context, request, &response);
        },
        [](const api::MemberListResponse&) { return false; });
  }

  bool remove(int member) {
    return change(
        [&](api::Admin::Stub& stub, grpc::ClientContext& context) {
          api::MemberRemoveRequest request;
          request.set_id(static_cast<std::uint64_t>(member));
          api::MemberChangeResponse response;
          return stub.MemberRemove(&context, request, &response);
        },
        [&](const api::MemberListResponse& list) { return find(list, member) == nullptr; });
  }

  // A removed member learns it (when it next asks for votes) and then
  // refuses every client with a message that says so.
  bool says_removed(int member) {
    auto kv = api::KV::NewStub(
        grpc::CreateChannel(FaultCluster::client_address(member), grpc::InsecureChannelCredentials()));
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(15);
    while (Clock::now() < deadline) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
      api::RangeRequest request;
      request.set_key("probe");
      api::RangeResponse response;
      const grpc::Status status = kv->Range(&context, request, &response);
      if (status.error_message().find("removed from the cluster") != std::string::npos) return true;
      last_error_ = "m" + std::to_string(member) + " answered " + std::to_string(status.error_code()) + " " +
                    status.error_message();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    last_error_ = "it did not say it was removed within 15 s (last: " + last_error_ + ")";
    return false;
  }

  bool expect_voters(const std::set<std::uint64_t>& expected) {
    const auto list = members();
    std::set<std::uint64_t> voters;
    if (list) {
      for (const api::Member& member : list->members()) {
        if (!member.learner()) voters.insert(member.id());
      }
    }
    if (voters == expected) return true;
    last_error_ = "the voters are";
    for (std::uint64_t voter : voters) last_error_ += " " + std::to_string(voter);
    return false;
  }

  FaultCluster& cluster_;
  const Clock::time_point origin_;
  std::vector<std::string>& violations_;
  std::map<int, std::unique_ptr<api::Admin::Stub>> stubs_;
  std::vector<FaultEvent> events_;
  std::string last_error_;
};

}  // namespace

std::vector<FaultEvent> run_membership_scenario(FaultCluster& cluster, Clock::time_point origin,
                                                std::vector<std::string>& violations) {
  return Scenario(cluster, origin, violations).run();
}

}  // namespace raftkv::fault
