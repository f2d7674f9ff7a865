#pragma once

#include <prometheus/metric_family.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "agent/alerting/alerting_config.h"
#include "agent/alerting/delivery.h"
#include "agent/alerting/notification.h"
#include "agent/alerting/spool.h"
#include "agent/core/log.h"
#include "agent/net/curl_multi.h"
#include "agent/net/event_loop.h"

namespace sre::alerting {

/// A receiver's delivery state, for the landing page. Value type.
struct ReceiverView {
  std::string name, type;
  size_t queued = 0;
  std::string last_error;  ///< the last failed attempt's verdict; empty after a success
  double last_success_unix = 0;
};

/// Delivers notifications to the receivers their routes name, at least once:
/// - each notification is written to the spool (fsync'd) before it is queued, and acked there
///   once delivered or given up on, so one raised while a receiver is down, or just before the
///   agent is killed, is delivered after it comes back (a kill between send and ack sends it
///   again: Alertmanager dedupes by labels, Slack shows a duplicate);
/// - per receiver a queue, one request in flight, retries with exponential backoff and jitter
///   (or the receiver's Retry-After); an answer that says the request itself is wrong (4xx but
///   408 and 429) is not retried: counted, logged, dropped;
/// - the spool's size bound drops the oldest notifications, counted; nothing is dropped silently;
/// - Alertmanager receivers also get the firing and recently resolved alerts again every
///   resend delay (Resend), with an `endsAt` lease, so Alertmanager resolves them by itself if
///   the agent goes away. Those re-sends are not spooled: the next one replaces a lost one.
/// Loop-thread only.
class Notifier {
 public:
  /// `changed` is called after each delivery attempt ends, so its series can be published.
  Notifier(net::EventLoop& loop, net::CurlMulti& curl, Logger& log, std::function<void()> changed);
  ~Notifier();

  /// Takes the receivers and routes of `config`. Opens the spool the first time receivers are
  /// configured and queues what it holds. Queues of receivers that remain are kept; those of
  /// removed ones are dropped (counted). Fails, changing nothing, when the spool cannot be opened
  /// or its path changed (that takes a restart).
  Status Configure(std::shared_ptr<const AlertingConfig> config, Duration evaluation_interval);

  /// Routes each notification, spools it and queues it for its receivers.
  void Notify(const std::vector<Notification>& notifications);
  /// Queues `active` (firing and recently resolved alerts) again for Alertmanager receivers.
  void Resend(const std::vector<Notification>& active);

  /// `sre_agent_notifications_total`, `..._dropped_total`, `sre_agent_notification_queue_length`
  /// and the spool's series.
  std::vector<prometheus::MetricFamily> Families() const;
  std::vector<ReceiverView> Views() const;

 private:
  struct Item {
    Notification notification;
    std::vector<uint64_t> spool_ids;  // acked once delivered; none for re-sends
  };
  struct Receiver {
    ReceiverConfig config;
    ReceiverKind kind = ReceiverKind::kWebhook;
    std::deque<Item> queue;
    std::vector<Item> in_flight;
    std::unique_ptr<DeliveryAttempt> attempt;
    net::EventLoop::TimerId retry_timer = 0;
    int failures = 0;  // in a row, for the backoff
    std::map<std::string, uint64_t> results;
    std::map<std::string, uint64_t> dropped;
    std::string last_error;
    double last_success_unix = 0;
  };

  std::vector<std::string> Route(const Notification& notification) const;
  void Enqueue(Receiver& receiver, Notification notification, std::vector<uint64_t> spool_ids);
  void Drop(Receiver& receiver, const Item& item, const std::string& reason);
  void Pump(Receiver& receiver);
  void OnVerdict(Receiver& receiver, const Verdict& verdict);
  Duration Backoff(int failures);
  void Ack(const std::vector<uint64_t>& ids);
  void WarnIfCompactionFailed();
  Status OpenSpool(const SpoolConfig& config);

  net::EventLoop& loop_;
  net::CurlMulti& curl_;
  Logger& log_;
  std::function<void()> changed_;
  std::shared_ptr<const AlertingConfig> config_ = std::make_shared<const AlertingConfig>();
  Duration lease_{};
  std::map<std::string, std::unique_ptr<Receiver>> receivers_;
  std::unique_ptr<Spool> spool_;
  std::string spool_path_;
  SpoolLoadReport spool_report_;
  std::map<std::string, uint64_t> removed_drops_;  // receivers no longer configured
  uint64_t unrouted_ = 0;                          // alerts no route took
  std::mt19937_64 random_{std::random_device{}()};
};

}  // namespace sre::alerting
