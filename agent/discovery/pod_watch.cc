#include "agent/discovery/pod_watch.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

namespace sre::discovery {
namespace {

constexpr Duration kFirstBackoff = std::chrono::seconds(1);
constexpr Duration kMaxBackoff = std::chrono::seconds(30);
constexpr Duration kListTimeout = std::chrono::seconds(60);
// Streams end after 5 to 10 minutes (server side, timeoutSeconds), as client-go's reflector
// asks, so that a stream through a proxy that lost it silently does not go on forever.
constexpr int kMinWatchSeconds = 300;
// A list or one watch line bigger than this is refused: 10,000 pods of ~6 KiB.
constexpr size_t kMaxBody = 64 << 20;

std::string Escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string ReadToken(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  std::string token = text.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  return token;
}

std::string DefaultApiServer() {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0') return "";
  const std::string h = host;
  return fmt::format("https://{}:{}", h.find(':') != std::string::npos ? "[" + h + "]" : h,
                     port != nullptr && *port != '\0' ? port : "443");
}

Duration Jittered(Duration base) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::uniform_real_distribution<double> factor(0.5, 1.0);
  return std::chrono::duration_cast<Duration>(base * factor(random));
}

}  // namespace

PodWatch::PodWatch(net::CurlMulti& curl, Logger& log, KubernetesApiConfig api, PodQuery query,
                   OnChange on_change)
    : curl_(curl),
      log_(log),
      api_(std::move(api)),
      query_(std::move(query)),
      on_change_(std::move(on_change)),
      easy_(curl_easy_init()) {}

PodWatch::~PodWatch() {
  curl_.Remove(easy_);
  if (retry_timer_ != 0) curl_.loop().CancelTimer(retry_timer_);
  if (notify_timer_ != 0) curl_.loop().CancelTimer(notify_timer_);
  curl_easy_cleanup(easy_);
  curl_slist_free_all(headers_);
}

void PodWatch::Start() { List(); }

std::string PodWatch::Url(bool watch) const {
  std::string base = api_.api_server.empty() ? DefaultApiServer() : api_.api_server;
  while (base.ends_with('/')) base.pop_back();
  std::string url = base + (query_.namespace_name.empty()
                                ? "/api/v1/pods"
                                : "/api/v1/namespaces/" + Escape(query_.namespace_name) + "/pods");
  std::vector<std::string> params;
  if (!query_.field_selector.empty())
    params.push_back("fieldSelector=" + Escape(query_.field_selector));
  if (!query_.label_selector.empty())
    params.push_back("labelSelector=" + Escape(query_.label_selector));
  if (watch) {
    thread_local std::mt19937 random{std::random_device{}()};
    const int seconds =
        std::uniform_int_distribution<int>(kMinWatchSeconds, 2 * kMinWatchSeconds)(random);
    params.push_back("watch=1");
    params.push_back("allowWatchBookmarks=true");
    params.push_back("resourceVersion=" + Escape(resource_version_));
    params.push_back(fmt::format("timeoutSeconds={}", seconds));
  }
  for (size_t i = 0; i < params.size(); ++i) url += (i == 0 ? "?" : "&") + params[i];
  return url;
}

bool PodWatch::Get(const std::string& url, Duration timeout) {
  if (url.find("://") == std::string::npos) {
    Retry("no API server: set kubernetes.api_server, or run in a pod (KUBERNETES_SERVICE_HOST)");
    return false;
  }
  curl_easy_reset(easy_);
  curl_slist_free_all(headers_);
  headers_ = curl_slist_append(nullptr, "Accept: application/json");
  const std::string token = ReadToken(api_.token_file);
  if (!token.empty()) {
    headers_ = curl_slist_append(headers_, ("Authorization: Bearer " + token).c_str());
  }
  buffer_.clear();
  curl_easy_setopt(easy_, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy_, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy_, CURLOPT_USERAGENT, "sre-agent");
  curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_);
  if (!api_.ca_file.empty()) curl_easy_setopt(easy_, CURLOPT_CAINFO, api_.ca_file.c_str());
  curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, &PodWatch::OnBody);
  curl_easy_setopt(easy_, CURLOPT_WRITEDATA, this);
  curl_easy_setopt(easy_, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(
      easy_, CURLOPT_TIMEOUT_MS,
      static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()));
  if (Status added = curl_.Add(easy_, [this](CURLcode code, CURL*) { OnDone(code); });
      !added.ok()) {
    Retry(added.message());
    return false;
  }
  return true;
}

void PodWatch::List() {
  phase_ = Phase::kListing;
  Get(Url(/*watch=*/false), kListTimeout);
}

void PodWatch::Watch() {
  phase_ = Phase::kWatching;
  relist_ = false;
  ++stats_.watches;
  // The server ends the stream after timeoutSeconds; curl's limit is only a backstop.
  Get(Url(/*watch=*/true), std::chrono::seconds(2 * kMinWatchSeconds + 30));
}

size_t PodWatch::OnBody(char* data, size_t, size_t count, void* self_ptr) {
  auto* self = static_cast<PodWatch*>(self_ptr);
  long status = 0;
  curl_easy_getinfo(self->easy_, CURLINFO_RESPONSE_CODE, &status);
  const std::string_view chunk(data, count);
  if (self->phase_ == Phase::kWatching && status == 200) {
    return self->OnStreamData(chunk) ? count : 0;
  }
  // A list, or an error's Status object: kept whole, up to the limit.
  if (self->buffer_.size() + count > kMaxBody) return 0;
  self->buffer_.append(chunk);
  return count;
}

bool PodWatch::OnStreamData(std::string_view data) {
  buffer_.append(data);
  size_t start = 0;
  for (size_t newline; (newline = buffer_.find('\n', start)) != std::string::npos;
       start = newline + 1) {
    const std::string_view line(buffer_.data() + start, newline - start);
    if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
    if (!ApplyEvent(line)) return false;
  }
  buffer_.erase(0, start);
  return buffer_.size() <= kMaxBody;
}

bool PodWatch::ApplyEvent(std::string_view line) {
  Result<WatchEvent> event = ParseWatchEvent(line);
  if (!event.ok()) {
    last_error_ = "watch event: " + event.status().message();
    return false;  // resumes from the last good resourceVersion
  }
  using Type = WatchEvent::Type;
  if (event->type == Type::kError) {
    if (event->error_code == 410) relist_ = true;
    last_error_ = fmt::format("watch error {}: {}", event->error_code, event->error_message);
    return false;
  }
  if (!event->resource_version.empty()) resource_version_ = event->resource_version;
  if (event->type == Type::kBookmark) return true;
  const std::string uid =
      event->pod.uid.empty() ? event->pod.namespace_name + "/" + event->pod.name : event->pod.uid;
  if (event->type == Type::kDeleted) {
    if (pods_.erase(uid) == 0) return true;
  } else {
    auto [it, inserted] = pods_.try_emplace(uid, event->pod);
    if (!inserted) {
      // A resourceVersion bump alone (status heartbeats) changes nothing the checks read.
      Pod before = it->second;
      before.resource_version = event->pod.resource_version;
      it->second = event->pod;
      if (before == event->pod) return true;
    }
  }
  NotifySoon();
  return true;
}

void PodWatch::NotifySoon() {
  if (notify_timer_ != 0) return;  // one call for a burst of events
  notify_timer_ = curl_.loop().AddTimerAfter(Duration::zero(), [this] {
    notify_timer_ = 0;
    on_change_(pods_);
  });
}

void PodWatch::Soon(std::function<void()> next) {
  if (retry_timer_ != 0) curl_.loop().CancelTimer(retry_timer_);
  retry_timer_ = curl_.loop().AddTimerAfter(Duration::zero(), [this, next = std::move(next)] {
    retry_timer_ = 0;
    next();
  });
}

void PodWatch::OnListed(std::string_view body) {
  Result<PodList> list = ParsePodList(body);
  if (!list.ok()) {
    Retry("list: " + list.status().message());
    return;
  }
  pods_.clear();
  for (Pod& pod : list->pods) {
    std::string uid = pod.uid.empty() ? pod.namespace_name + "/" + pod.name : pod.uid;
    pods_.emplace(std::move(uid), std::move(pod));
  }
  resource_version_ = list->resource_version;
  ++stats_.lists;
  stats_.synced = true;
  backoff_ = Duration::zero();
  NotifySoon();
  Watch();
}

void PodWatch::OnDone(CURLcode code) {
  long status = 0;
  curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
  const Phase phase = phase_;
  phase_ = Phase::kIdle;
  std::string body = std::move(buffer_);
  buffer_.clear();
  if (phase == Phase::kListing && code == CURLE_OK && status == 200) {
    OnListed(body);
    return;
  }
  if (status == 410 || relist_) {
    // The resourceVersion is older than the server keeps: start over from a fresh list.
    ++stats_.relists_gone;
    log_.Info("kubernetes watch expired (410 Gone); listing again", {{"watch", query_.name}});
    Soon([this] { List(); });
    return;
  }
  if (phase == Phase::kWatching && code == CURLE_OK && status == 200 && last_error_.empty()) {
    // The server ended the stream (timeoutSeconds): resume from where it stopped.
    Soon([this] { Watch(); });
    return;
  }
  std::string error = last_error_;
  if (error.empty()) {
    error = code != CURLE_OK ? std::string(curl_easy_strerror(code))
                             : fmt::format("HTTP {}: {}", status, body.substr(0, 200));
  }
  Retry(fmt::format("{}: {}", phase == Phase::kListing ? "list" : "watch", error));
}

void PodWatch::Retry(const std::string& error) {
  ++stats_.errors;
  last_error_.clear();
  backoff_ = backoff_ == Duration::zero() ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
  log_.WarnLimited(
      "kubernetes watch failed; retrying",
      {{"watch", query_.name},
       {"error", error},
       {"retry_in",
        fmt::format("{}ms",
                    std::chrono::duration_cast<std::chrono::milliseconds>(backoff_).count())}});
  const bool synced = stats_.synced && !resource_version_.empty();
  retry_timer_ = curl_.loop().AddTimerAfter(Jittered(backoff_), [this, synced] {
    retry_timer_ = 0;
    if (synced) {
      Watch();  // a dropped stream resumes; a 410 then sends us back to List
    } else {
      List();
    }
  });
}

}  // namespace sre::discovery
