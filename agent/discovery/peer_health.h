#pragma once

#include <curl/curl.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/core/log.h"
#include "agent/discovery/discovery_config.h"
#include "agent/net/curl_multi.h"

namespace sre::discovery {

/// Membership off Kubernetes: a static list of agents' base URLs, each polled at `/-/ready`
/// every `peer_interval`. A peer stops being a member after 3 failed polls in a row and is one
/// again at its next ready answer; every peer counts as a member until polls say otherwise, so
/// agents started together agree at once. `self` is always a member and is not polled.
/// Loop-thread only; destroying it cancels the polls.
class PeerHealth {
 public:
  using OnChange = std::function<void(const std::vector<std::string>& members)>;

  PeerHealth(net::CurlMulti& curl, Logger& log, ShardingConfig config, OnChange on_change);
  ~PeerHealth();
  PeerHealth(const PeerHealth&) = delete;
  PeerHealth& operator=(const PeerHealth&) = delete;

  /// Reports the initial members (every peer) and starts polling.
  void Start();
  std::vector<std::string> members() const;

  static constexpr int kFailuresToDrop = 3;

 private:
  struct Peer {
    std::string url;
    CURL* easy = nullptr;
    int failures = 0;
    bool in_flight = false;
  };

  void PollAll();
  void OnPolled(Peer& peer, CURLcode code);

  net::CurlMulti& curl_;
  Logger& log_;
  const ShardingConfig config_;
  const OnChange on_change_;
  std::vector<std::unique_ptr<Peer>> peers_;  // every peer but self
  net::EventLoop::TimerId timer_ = 0;
};

}  // namespace sre::discovery
