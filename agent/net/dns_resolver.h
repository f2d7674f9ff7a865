#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "agent/base/status.h"
#include "agent/core/reason.h"
#include "agent/net/event_loop.h"
#include "agent/net/ip_address.h"

namespace sre::net {

/// The outcome of one name resolution.
struct Resolution {
  std::vector<IpAddress> addresses;  ///< all of the chosen family, in the order DNS gave them
  Duration elapsed{0};               ///< time spent resolving (0 for IP literals)
  Reason reason = Reason::kNone;     ///< kDnsError on any failure, the deadline included
  std::string error;                 ///< c-ares' message on failure
};

/// Asynchronous DNS with c-ares, driven by the EventLoop (no thread, no blocking call).
/// Loop-thread only.
class DnsResolver {
 public:
  using RequestId = uint64_t;
  using Done = std::function<void(Resolution)>;

  /// `servers` are "ip" or "ip:port" (IPv6 as "[::1]:53"); empty means /etc/resolv.conf.
  static Result<std::unique_ptr<DnsResolver>> Create(EventLoop& loop,
                                                     const std::vector<std::string>& servers);
  virtual ~DnsResolver() = default;

  /// Resolves `host`. Gives every address of `preferred`; only when there is none, every address
  /// of the other family. IP literals answer at once (still through `done`, never re-entrantly).
  /// `done` runs exactly once on the loop thread, by `deadline` at the latest, unless cancelled.
  virtual RequestId Resolve(const std::string& host, IpFamily preferred, TimePoint deadline,
                            Done done) = 0;
  /// Drops a pending request; its `done` is never called.
  virtual void Cancel(RequestId id) = 0;
};

/// The preferred-family rule of `Resolve`: every address of `preferred` in the given order, or,
/// only when there is none, every address of the other family; duplicates dropped.
std::vector<IpAddress> SelectPreferred(const std::vector<IpAddress>& all, IpFamily preferred);

/// One resolver per distinct server list, shared by the checks that use it. Loop-thread only.
class ResolverPool {
 public:
  explicit ResolverPool(EventLoop& loop) : loop_(loop) {}
  Result<DnsResolver*> Get(const std::vector<std::string>& servers);

 private:
  EventLoop& loop_;
  std::map<std::vector<std::string>, std::unique_ptr<DnsResolver>> resolvers_;
};

}  // namespace sre::net
