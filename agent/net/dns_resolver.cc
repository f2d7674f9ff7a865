#include "agent/net/dns_resolver.h"

#include <ares.h>
#include <fmt/format.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace sre::net {
namespace {

bool IsLocalhost(std::string_view host) {
  if (host.ends_with('.')) host.remove_suffix(1);  // the fully qualified form
  auto lower_equals = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) == y;
           });
  };
  return lower_equals(host, "localhost") ||
         (host.size() > 10 && lower_equals(host.substr(host.size() - 10), ".localhost"));
}

// c-ares' own retransmission policy. Its defaults (5 s, 4 tries, doubling) never retransmit
// within a typical check deadline, so a single lost UDP packet would cost the whole deadline.
constexpr int kCaresTimeoutMs = 1000;
constexpr int kCaresTries = 3;

/// "ip", "ip:port" or "[v6]:port" -> the "ip:port" / "[v6]:port" form of
/// ares_set_servers_ports_csv.
Result<std::string> ServersCsv(const std::vector<std::string>& servers) {
  std::string csv;
  for (const std::string& server : servers) {
    std::optional<IpAddress> ip = IpAddress::Parse(server);
    uint16_t port = 53;
    if (!ip) {
      if (auto host_port = HostPort::Parse(server)) {
        ip = IpAddress::Parse(host_port->host);
        port = host_port->port;
      }
    }
    if (!ip) {
      return Status::Error(fmt::format(
          "DNS server \"{}\" is not an IP address (\"10.0.0.2\", \"10.0.0.2:53\", \"[::1]:53\")",
          server));
    }
    if (!csv.empty()) csv += ',';
    csv += ip->family() == IpFamily::kIp6 ? fmt::format("[{}]:{}", ip->ToString(), port)
                                          : fmt::format("{}:{}", ip->ToString(), port);
  }
  return csv;
}

/// DnsResolver over one c-ares channel whose sockets and timeouts are driven by the EventLoop.
///
/// Re-entrancy: user callbacks never run inside c-ares. c-ares' completion callback only records
/// the result; results are handed out after ares_process_fd returns (I/O and timer handlers) or
/// from a zero-delay loop timer (answers known during Resolve: IP literals, the hosts file,
/// immediate errors). So a `done` may call Resolve, Cancel or even destroy the resolver.
class CaresResolver final : public DnsResolver {
 public:
  explicit CaresResolver(EventLoop& loop) : loop_(loop) {}
  ~CaresResolver() override;

  Status Init(const std::string& servers_csv);

  RequestId Resolve(const std::string& host, IpFamily preferred, TimePoint deadline,
                    Done done) override;
  void Cancel(RequestId id) override;

 private:
  struct Request {
    IpFamily preferred = IpFamily::kIp4;
    TimePoint start;
    Done done;
    EventLoop::TimerId deadline_timer = 0;
    bool in_cares = false;   // a c-ares query answers this request
    bool completed = false;  // `result` is final, waiting in completed_ for delivery
    Resolution result;
  };
  // The `arg` of one ares_getaddrinfo call; c-ares calls back exactly once per query (also with
  // ARES_EDESTRUCTION from ares_destroy), and that call frees it.
  struct QueryContext {
    CaresResolver* resolver;
    RequestId id;
  };

  static void OnSockState(void* data, ares_socket_t fd, int readable, int writable);
  static void OnAddrInfo(void* arg, int status, int timeouts, ares_addrinfo* result);

  void OnSocketEvents(int fd, uint32_t events);
  void OnAresTimer();
  void OnDeadline(RequestId id);
  void Complete(RequestId id, Resolution result);
  void Forget(Request& request);
  void ScheduleDelivery();
  void DeliverCompleted();
  void RearmAresTimer();
  void CancelOrphanQueries();

  EventLoop& loop_;
  ares_channel channel_ = nullptr;
  RequestId next_id_ = 1;
  std::unordered_map<RequestId, Request> requests_;  // pending, not yet delivered
  std::deque<RequestId> completed_;                  // delivery order
  std::unordered_set<int> watched_;                  // sockets c-ares asked us to watch
  size_t cares_queries_ = 0;        // ares_getaddrinfo calls whose callback has not run
  size_t live_cares_requests_ = 0;  // requests still waiting on one of those
  EventLoop::TimerId ares_timer_ = 0;
  EventLoop::TimerId delivery_timer_ = 0;
  bool destroying_ = false;
  // Cleared by the destructor; a copy held across a user callback tells whether `this` survived.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

CaresResolver::~CaresResolver() {
  *alive_ = false;
  destroying_ = true;
  for (auto& [id, request] : requests_) {
    if (request.deadline_timer != 0) loop_.CancelTimer(request.deadline_timer);
  }
  requests_.clear();
  completed_.clear();
  if (ares_timer_ != 0) loop_.CancelTimer(ares_timer_);
  if (delivery_timer_ != 0) loop_.CancelTimer(delivery_timer_);
  // Calls every outstanding query back with ARES_EDESTRUCTION (which frees its context, see
  // OnAddrInfo) and reports each socket closed through OnSockState before closing it.
  if (channel_ != nullptr) ares_destroy(channel_);
  for (int fd : watched_) loop_.Unwatch(fd);  // none expected; never leave a stale watch
}

Status CaresResolver::Init(const std::string& servers_csv) {
  ares_options options{};
  options.sock_state_cb = &CaresResolver::OnSockState;
  options.sock_state_cb_data = this;
  options.timeout = kCaresTimeoutMs;
  options.tries = kCaresTries;
  const int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  int rc = ares_init_options(&channel_, &options, mask);
  if (rc != ARES_SUCCESS) {
    channel_ = nullptr;
    return Status::Error(fmt::format("c-ares initialisation failed: {}", ares_strerror(rc)));
  }
  if (!servers_csv.empty()) {
    rc = ares_set_servers_ports_csv(channel_, servers_csv.c_str());
    if (rc != ARES_SUCCESS) {
      return Status::Error(fmt::format("DNS servers \"{}\": {}", servers_csv, ares_strerror(rc)));
    }
  }
  return Status::Ok();
}

DnsResolver::RequestId CaresResolver::Resolve(const std::string& host, IpFamily preferred,
                                              TimePoint deadline, Done done) {
  const RequestId id = next_id_++;
  Request& request = requests_[id];
  request.preferred = preferred;
  request.start = loop_.clock().Now();
  request.done = std::move(done);

  // Answers known now still go through the loop, never re-entrantly.
  if (std::optional<IpAddress> literal = IpAddress::Parse(host)) {
    Resolution result;
    result.addresses.push_back(*literal);
    Complete(id, std::move(result));
    return id;
  }
  if (host.empty()) {
    Resolution result;
    result.reason = Reason::kDnsError;
    result.error = "empty host name";
    Complete(id, std::move(result));
    return id;
  }
  // RFC 6761: "localhost" is the loopback address without asking anyone. glibc gets it from
  // /etc/hosts, which minimal images and chroots lack; c-ares 1.18 would then ask DNS.
  if (IsLocalhost(host)) {
    Resolution result;
    result.addresses.push_back(
        *IpAddress::Parse(preferred == IpFamily::kIp6 ? "::1" : "127.0.0.1"));
    Complete(id, std::move(result));
    return id;
  }

  request.deadline_timer = loop_.AddTimer(deadline, [this, id] { OnDeadline(id); });
  request.in_cares = true;
  ++live_cares_requests_;
  ++cares_queries_;
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;      // both A and AAAA: the family rule needs to see both
  hints.ai_flags = ARES_AI_NOSORT;  // keep DNS order (and no probing connect() per address)
  // May call OnAddrInfo synchronously (hosts file, bad name); Complete() then schedules delivery.
  ares_getaddrinfo(channel_, host.c_str(), nullptr, &hints, &CaresResolver::OnAddrInfo,
                   new QueryContext{this, id});
  RearmAresTimer();
  return id;
}

void CaresResolver::Cancel(RequestId id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  Forget(it->second);
  requests_.erase(it);
  // A stale id left in completed_ is skipped at delivery.
  CancelOrphanQueries();
}

void CaresResolver::OnSockState(void* data, ares_socket_t fd, int readable, int writable) {
  auto* self = static_cast<CaresResolver*>(data);
  if (!readable && !writable) {
    self->loop_.Unwatch(fd);
    self->watched_.erase(fd);
    return;
  }
  const uint32_t events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u);
  if (self->watched_.contains(fd)) {
    // Cannot fail for a watched fd; if it did, c-ares' own timeout still ends the query.
    (void)self->loop_.SetEvents(fd, events);
    return;
  }
  Status status = self->loop_.Watch(
      fd, events, [self, fd](uint32_t ready) { self->OnSocketEvents(fd, ready); });
  if (status.ok()) self->watched_.insert(fd);
}

void CaresResolver::OnAddrInfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  std::unique_ptr<QueryContext> context(static_cast<QueryContext*>(arg));
  CaresResolver* self = context->resolver;
  --self->cares_queries_;
  std::vector<IpAddress> all;
  if (status == ARES_SUCCESS && result != nullptr) {
    for (ares_addrinfo_node* node = result->nodes; node != nullptr; node = node->ai_next) {
      if (node->ai_addr == nullptr) continue;
      if (node->ai_family == AF_INET || node->ai_family == AF_INET6) {
        all.push_back(IpAddress::FromSockaddr(node->ai_addr));
      }
    }
  }
  if (result != nullptr) ares_freeaddrinfo(result);
  if (self->destroying_) return;

  auto it = self->requests_.find(context->id);
  if (it == self->requests_.end() || it->second.completed) return;  // cancelled or timed out
  Resolution resolution;
  if (status != ARES_SUCCESS) {
    resolution.reason = Reason::kDnsError;
    resolution.error = ares_strerror(status);
  } else {
    resolution.addresses = SelectPreferred(all, it->second.preferred);
    if (resolution.addresses.empty()) {
      resolution.reason = Reason::kDnsError;
      resolution.error = ares_strerror(ARES_ENODATA);
    }
  }
  self->Complete(context->id, std::move(resolution));
}

void CaresResolver::OnSocketEvents(int fd, uint32_t events) {
  const ares_socket_t read_fd = (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD;
  const ares_socket_t write_fd = (events & (EPOLLOUT | EPOLLERR)) ? fd : ARES_SOCKET_BAD;
  ares_process_fd(channel_, read_fd, write_fd);
  RearmAresTimer();
  DeliverCompleted();  // last: may destroy `this`
}

void CaresResolver::OnAresTimer() {
  ares_timer_ = 0;
  ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // retransmits and timeouts
  RearmAresTimer();
  DeliverCompleted();  // last: may destroy `this`
}

void CaresResolver::OnDeadline(RequestId id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  Request& request = it->second;
  request.deadline_timer = 0;     // it is running now
  if (request.completed) return;  // answered already; delivery is queued
  Resolution result;
  // A lookup that outlives the check's deadline is still a DNS failure: the reason names the
  // component that failed, whichever of c-ares' own timeout and the deadline came first.
  result.reason = Reason::kDnsError;
  result.error = "no answer from the DNS servers before the deadline";
  result.elapsed = loop_.clock().Now() - request.start;
  Done done = std::move(request.done);
  Forget(request);
  requests_.erase(it);
  CancelOrphanQueries();
  if (done) done(std::move(result));  // last: may destroy `this`
}

void CaresResolver::Complete(RequestId id, Resolution result) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  Request& request = it->second;
  if (request.in_cares) result.elapsed = loop_.clock().Now() - request.start;
  Forget(request);
  request.completed = true;
  request.result = std::move(result);
  completed_.push_back(id);
  ScheduleDelivery();
}

// Detaches a request from its timer and from the c-ares bookkeeping (not from requests_).
void CaresResolver::Forget(Request& request) {
  if (request.deadline_timer != 0) {
    loop_.CancelTimer(request.deadline_timer);
    request.deadline_timer = 0;
  }
  if (request.in_cares) {
    request.in_cares = false;
    --live_cares_requests_;
  }
}

void CaresResolver::ScheduleDelivery() {
  // Also when called from inside ares_process_fd: the handler then delivers first, and this
  // timer finds nothing left.
  if (delivery_timer_ != 0) return;
  delivery_timer_ = loop_.AddTimerAfter(Duration(0), [this] {
    delivery_timer_ = 0;
    DeliverCompleted();
  });
}

void CaresResolver::DeliverCompleted() {
  const std::shared_ptr<bool> alive = alive_;
  while (!completed_.empty()) {
    const RequestId id = completed_.front();
    completed_.pop_front();
    auto it = requests_.find(id);
    if (it == requests_.end()) continue;  // cancelled after completing
    Done done = std::move(it->second.done);
    Resolution result = std::move(it->second.result);
    requests_.erase(it);
    if (done) done(std::move(result));
    if (!*alive) return;  // `done` destroyed the resolver
  }
  if (delivery_timer_ != 0) {
    loop_.CancelTimer(delivery_timer_);
    delivery_timer_ = 0;
  }
}

void CaresResolver::RearmAresTimer() {
  if (ares_timer_ != 0) {
    loop_.CancelTimer(ares_timer_);
    ares_timer_ = 0;
  }
  timeval buffer{};
  const timeval* next = ares_timeout(channel_, nullptr, &buffer);
  if (next == nullptr) return;  // no query in flight
  const Duration delay =
      std::chrono::seconds(next->tv_sec) + std::chrono::microseconds(next->tv_usec);
  ares_timer_ = loop_.AddTimerAfter(delay, [this] { OnAresTimer(); });
}

// c-ares cannot cancel one query, only all of them: do that once no live request needs any, so
// abandoned queries (timed out or cancelled) stop retransmitting. Never called from inside
// c-ares: it runs from Cancel and OnDeadline, which user code and timers call.
void CaresResolver::CancelOrphanQueries() {
  if (live_cares_requests_ != 0 || cares_queries_ == 0) return;
  ares_cancel(channel_);  // calls OnAddrInfo(ARES_ECANCELLED) for each; they find no request
  RearmAresTimer();
}

}  // namespace

std::vector<IpAddress> SelectPreferred(const std::vector<IpAddress>& all, IpFamily preferred) {
  std::vector<IpAddress> chosen;
  auto take = [&](IpFamily family) {
    for (const IpAddress& address : all) {
      if (address.family() != family) continue;
      bool seen = false;
      for (const IpAddress& kept : chosen) seen = seen || kept == address;
      if (!seen) chosen.push_back(address);
    }
  };
  take(preferred);
  if (chosen.empty()) take(preferred == IpFamily::kIp4 ? IpFamily::kIp6 : IpFamily::kIp4);
  return chosen;
}

Result<std::unique_ptr<DnsResolver>> DnsResolver::Create(EventLoop& loop,
                                                         const std::vector<std::string>& servers) {
  Result<std::string> csv = ServersCsv(servers);
  if (!csv.ok()) return csv.status();
  auto resolver = std::make_unique<CaresResolver>(loop);
  if (Status status = resolver->Init(*csv); !status.ok()) return status;
  return std::unique_ptr<DnsResolver>(std::move(resolver));
}

Result<DnsResolver*> ResolverPool::Get(const std::vector<std::string>& servers) {
  auto it = resolvers_.find(servers);
  if (it != resolvers_.end()) return it->second.get();
  Result<std::unique_ptr<DnsResolver>> created = DnsResolver::Create(loop_, servers);
  if (!created.ok()) return created.status();
  DnsResolver* resolver = created->get();
  resolvers_.emplace(servers, std::move(created).value());
  return resolver;
}

}  // namespace sre::net
