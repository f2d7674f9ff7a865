#include "agent/discovery/peer_health.h"

#include <algorithm>

namespace sre::discovery {
namespace {

size_t Discard(char*, size_t, size_t count, void*) { return count; }

}  // namespace

PeerHealth::PeerHealth(net::CurlMulti& curl, Logger& log, ShardingConfig config, OnChange on_change)
    : curl_(curl), log_(log), config_(std::move(config)), on_change_(std::move(on_change)) {
  for (const std::string& url : config_.peers) {
    if (url == config_.self) continue;
    auto peer = std::make_unique<Peer>();
    peer->url = url;
    peer->easy = curl_easy_init();
    peers_.push_back(std::move(peer));
  }
}

PeerHealth::~PeerHealth() {
  if (timer_ != 0) curl_.loop().CancelTimer(timer_);
  for (auto& peer : peers_) {
    curl_.Remove(peer->easy);
    curl_easy_cleanup(peer->easy);
  }
}

std::vector<std::string> PeerHealth::members() const {
  std::vector<std::string> names = {config_.self};
  for (const auto& peer : peers_) {
    if (peer->failures < kFailuresToDrop) names.push_back(peer->url);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void PeerHealth::Start() {
  on_change_(members());
  PollAll();
}

void PeerHealth::PollAll() {
  // A poll gets the interval to answer (at most 5 s), so one never overlaps the next.
  const long timeout_ms = static_cast<long>(std::clamp<int64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.peer_interval).count(), 50,
      5000));
  for (auto& peer_ptr : peers_) {
    Peer& peer = *peer_ptr;
    if (peer.in_flight) continue;
    const std::string url = peer.url + (peer.url.ends_with('/') ? "-/ready" : "/-/ready");
    curl_easy_reset(peer.easy);
    curl_easy_setopt(peer.easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(peer.easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(peer.easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(peer.easy, CURLOPT_USERAGENT, "sre-agent");
    curl_easy_setopt(peer.easy, CURLOPT_WRITEFUNCTION, &Discard);
    curl_easy_setopt(peer.easy, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (curl_.Add(peer.easy, [this, &peer](CURLcode code, CURL*) { OnPolled(peer, code); }).ok()) {
      peer.in_flight = true;
    } else {
      OnPolled(peer, CURLE_FAILED_INIT);
    }
  }
  timer_ = curl_.loop().AddTimerAfter(config_.peer_interval, [this] {
    timer_ = 0;
    PollAll();
  });
}

void PeerHealth::OnPolled(Peer& peer, CURLcode code) {
  peer.in_flight = false;
  long status = 0;
  curl_easy_getinfo(peer.easy, CURLINFO_RESPONSE_CODE, &status);
  const bool was_member = peer.failures < kFailuresToDrop;
  peer.failures =
      code == CURLE_OK && status == 200 ? 0 : std::min(peer.failures + 1, kFailuresToDrop);
  const bool is_member = peer.failures < kFailuresToDrop;
  if (was_member == is_member) return;
  if (is_member) {
    log_.Info("sharding peer is ready again: taking it back", {{"peer", peer.url}});
  } else {
    log_.Warn("sharding peer failed 3 polls in a row: handing its probes over",
              {{"peer", peer.url}});
  }
  on_change_(members());
}

}  // namespace sre::discovery
