#include "agent/alerting/notifier.h"

#include <fmt/format.h>

#include <algorithm>

#include "agent/core/metric_set.h"

namespace sre::alerting {
namespace {

// Retries start soon (a receiver restarting is back in seconds) and back off to once a minute:
// an alert is worth trying for as long as the spool keeps it.
constexpr Duration kFirstRetry = std::chrono::milliseconds(500);
constexpr Duration kMaxRetry = std::chrono::minutes(1);

constexpr std::string_view kDroppedHelp =
    "Notifications given up on: rejected by the receiver, evicted by the spool's size bound "
    "(spool_full), left for a receiver no longer configured (receiver_removed), or matching no "
    "route (no_route).";

bool SameLabels(const Notification& a, const Notification& b) { return a.labels == b.labels; }

}  // namespace

Notifier::Notifier(net::EventLoop& loop, net::CurlMulti& curl, Logger& log,
                   std::function<void()> changed)
    : loop_(loop), curl_(curl), log_(log), changed_(std::move(changed)) {}

Notifier::~Notifier() {
  for (auto& [name, receiver] : receivers_) loop_.CancelTimer(receiver->retry_timer);
}

Status Notifier::OpenSpool(const SpoolConfig& config) {
  SpoolLoadReport report;
  auto spool = Spool::Open(config.path, static_cast<uint64_t>(config.max_bytes), &report);
  if (!spool.ok()) return spool.status();
  if (report.corrupt_regions > 0 || report.truncated_tail) {
    log_.Warn("alert spool was damaged; kept what could be read",
              {{"path", config.path}, {"report", report.Describe()}});
  } else if (report.entries > 0) {
    log_.Info("alert spool holds notifications not yet delivered",
              {{"path", config.path}, {"report", report.Describe()}});
  }
  spool_ = std::move(spool).value();
  spool_path_ = config.path;
  spool_report_ = report;
  return Status::Ok();
}

Status Notifier::Configure(std::shared_ptr<const AlertingConfig> config,
                           Duration evaluation_interval) {
  if (spool_ && spool_path_ != config->spool.path) {
    // The queued notifications' ids belong to the open file: moving them is a restart's job.
    return Status::Error("alerting.spool.path cannot change on reload (" + spool_path_ + " to " +
                         config->spool.path + "); restart the agent to move the spool");
  }
  const bool reopen = !spool_ && !config->receivers.empty();
  if (reopen) {
    if (Status s = OpenSpool(config->spool); !s.ok()) return s;
  }
  config_ = std::move(config);
  // Prometheus' lease: an alert not re-sent within it is resolved by Alertmanager itself.
  lease_ = 4 * std::max(evaluation_interval, config_->resend_delay);

  std::map<std::string, std::unique_ptr<Receiver>> next;
  for (const ReceiverConfig& receiver_config : config_->receivers) {
    auto it = receivers_.find(receiver_config.name);
    std::unique_ptr<Receiver> receiver;
    if (it != receivers_.end()) {
      receiver = std::move(it->second);
      receivers_.erase(it);
    } else {
      receiver = std::make_unique<Receiver>();
    }
    receiver->config = receiver_config;
    receiver->kind = KindOf(receiver_config);
    next.emplace(receiver_config.name, std::move(receiver));
  }
  for (auto& [name, gone] : receivers_) {
    loop_.CancelTimer(gone->retry_timer);
    gone->attempt.reset();
    for (const Item& item : gone->in_flight) Ack(item.spool_ids);
    for (const Item& item : gone->queue) Ack(item.spool_ids);
    removed_drops_[name] += gone->in_flight.size() + gone->queue.size();
  }
  receivers_ = std::move(next);

  if (reopen) {
    for (const SpoolEntry& entry : spool_report_.evicted) {
      auto it = receivers_.find(entry.receiver);
      if (it != receivers_.end()) {
        ++it->second->dropped["spool_full"];
      } else {
        ++removed_drops_[entry.receiver];
      }
    }
    // What the spool kept from before: notifications a previous run did not deliver.
    for (const SpoolEntry& entry : spool_->Pending()) {
      auto notification = DecodeNotification(entry.payload);
      auto it = receivers_.find(entry.receiver);
      if (!notification.ok() || it == receivers_.end()) {
        log_.Warn(
            "spooled notification dropped",
            {{"receiver", entry.receiver},
             {"error", notification.ok() ? "no such receiver" : notification.status().message()}});
        ++removed_drops_[entry.receiver];  // counted as receiver_removed
        (void)spool_->Ack(entry.id);
        continue;
      }
      Enqueue(*it->second, std::move(notification).value(), {entry.id});
    }
  }
  for (auto& [name, receiver] : receivers_) Pump(*receiver);
  return Status::Ok();
}

std::vector<std::string> Notifier::Route(const Notification& notification) const {
  std::vector<std::string> names;
  if (config_->routes.empty()) {
    for (const ReceiverConfig& receiver : config_->receivers) names.push_back(receiver.name);
    return names;
  }
  for (const RouteConfig& route : config_->routes) {
    if (!MatchesAll(route.matchers, notification.labels)) continue;
    for (const std::string& name : route.receivers) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
    if (!route.continue_matching) break;
  }
  return names;
}

void Notifier::Notify(const std::vector<Notification>& notifications) {
  if (receivers_.empty()) return;  // alerts only on /metrics and the landing page
  for (const Notification& notification : notifications) {
    const std::vector<std::string> names = Route(notification);
    if (names.empty()) {
      log_.WarnLimited("alert matched no route: not delivered",
                       {{"alertname", std::string(notification.Label("alertname"))}});
      ++unrouted_;
      continue;
    }
    const std::string payload = EncodeNotification(notification);
    for (const std::string& name : names) {
      Receiver& receiver = *receivers_.at(name);
      if (!notification.firing && !receiver.config.send_resolved) continue;
      std::vector<uint64_t> ids;
      std::vector<SpoolEntry> evicted;
      auto id = spool_->Append(name, payload, &evicted);
      if (id.ok()) {
        ids.push_back(*id);
      } else {
        // Still delivered from memory; only a restart before delivery would lose it.
        log_.Error("notification not written to the spool",
                   {{"receiver", name}, {"error", id.status().message()}});
      }
      WarnIfCompactionFailed();
      for (const SpoolEntry& entry : evicted) {
        auto it = receivers_.find(entry.receiver);
        if (it == receivers_.end()) continue;
        auto& queue = it->second->queue;
        auto holds = [&](const Item& item) {
          return std::find(item.spool_ids.begin(), item.spool_ids.end(), entry.id) !=
                 item.spool_ids.end();
        };
        if (auto item = std::find_if(queue.begin(), queue.end(), holds); item != queue.end()) {
          ++it->second->dropped["spool_full"];
          queue.erase(item);
        }
      }
      Enqueue(receiver, notification, std::move(ids));
      Pump(receiver);
    }
  }
}

void Notifier::Resend(const std::vector<Notification>& active) {
  for (const Notification& notification : active) {
    for (const std::string& name : Route(notification)) {
      Receiver& receiver = *receivers_.at(name);
      if (receiver.kind != ReceiverKind::kAlertmanager) continue;
      if (!notification.firing && !receiver.config.send_resolved) continue;
      Enqueue(receiver, notification, {});
      Pump(receiver);
    }
  }
}

void Notifier::Enqueue(Receiver& receiver, Notification notification,
                       std::vector<uint64_t> spool_ids) {
  if (receiver.kind == ReceiverKind::kAlertmanager) {
    // Alertmanager wants the latest state of each alert, not its history: a newer one replaces
    // a queued one, which is acked along with it.
    for (Item& item : receiver.queue) {
      if (!SameLabels(item.notification, notification)) continue;
      item.notification = std::move(notification);
      item.spool_ids.insert(item.spool_ids.end(), spool_ids.begin(), spool_ids.end());
      return;
    }
  }
  receiver.queue.push_back({std::move(notification), std::move(spool_ids)});
}

void Notifier::Drop(Receiver& receiver, const Item& item, const std::string& reason) {
  ++receiver.dropped[reason];
  Ack(item.spool_ids);
}

void Notifier::Ack(const std::vector<uint64_t>& ids) {
  if (!spool_) return;
  for (uint64_t id : ids) {
    if (Status s = spool_->Ack(id); !s.ok()) {
      log_.WarnLimited("spool ack failed", {{"error", s.message()}});
    }
  }
  WarnIfCompactionFailed();
}

void Notifier::WarnIfCompactionFailed() {
  // Nothing is lost (the records are on disk), but the file grows until a compaction works.
  if (!spool_->compaction_status().ok()) {
    log_.WarnLimited("alert spool compaction failed; will retry",
                     {{"error", spool_->compaction_status().message()}});
  }
}

void Notifier::Pump(Receiver& receiver) {
  if (receiver.attempt || receiver.retry_timer != 0 || receiver.queue.empty()) return;
  const size_t take = std::min(receiver.queue.size(), MaxBatch(receiver.kind));
  std::vector<Notification> batch;
  for (size_t i = 0; i < take; ++i) {
    receiver.in_flight.push_back(std::move(receiver.queue.front()));
    receiver.queue.pop_front();
    batch.push_back(receiver.in_flight.back().notification);
  }
  receiver.attempt = std::make_unique<DeliveryAttempt>(
      curl_, receiver.config, batch, loop_.clock().WallSeconds(), lease_, config_->external_url);
  receiver.attempt->Start([this, &receiver](Verdict verdict) {
    // Destroyed on the next turn, not inside its own callback.
    loop_.Post([attempt = std::shared_ptr<DeliveryAttempt>(std::move(receiver.attempt))] {});
    OnVerdict(receiver, verdict);
    changed_();
  });
}

void Notifier::OnVerdict(Receiver& receiver, const Verdict& verdict) {
  std::vector<Item> batch = std::move(receiver.in_flight);
  receiver.in_flight.clear();
  const Labels labels = {{"receiver", receiver.config.name}};
  switch (verdict.outcome) {
    case Outcome::kDelivered:
      receiver.results["success"] += batch.size();
      receiver.failures = 0;
      receiver.last_error.clear();
      receiver.last_success_unix = loop_.clock().WallSeconds();
      for (const Item& item : batch) Ack(item.spool_ids);
      Pump(receiver);
      return;
    case Outcome::kRejected:
      receiver.results["rejected"] += batch.size();
      receiver.last_error = verdict.message;
      log_.Error("receiver rejected notifications; not retried",
                 {{"receiver", receiver.config.name},
                  {"notifications", std::to_string(batch.size())},
                  {"error", verdict.message}});
      for (const Item& item : batch) Drop(receiver, item, "rejected");
      Pump(receiver);
      return;
    case Outcome::kRetry:
      break;
  }
  receiver.results["failed"] += batch.size();
  receiver.last_error = verdict.message;
  ++receiver.failures;
  // Back to the front, in order; a newer state queued meanwhile for the same alert wins.
  for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
    auto newer = std::find_if(receiver.queue.begin(), receiver.queue.end(), [&](const Item& q) {
      return receiver.kind == ReceiverKind::kAlertmanager &&
             SameLabels(q.notification, it->notification);
    });
    if (newer != receiver.queue.end()) {
      newer->spool_ids.insert(newer->spool_ids.end(), it->spool_ids.begin(), it->spool_ids.end());
    } else {
      receiver.queue.push_front(std::move(*it));
    }
  }
  const Duration wait =
      verdict.retry_after > Duration::zero() ? verdict.retry_after : Backoff(receiver.failures);
  log_.WarnLimited("delivery failed; will retry",
                   {{"receiver", receiver.config.name},
                    {"error", verdict.message},
                    {"retry_in", fmt::format("{:.1f}s", ToSeconds(wait))}});
  receiver.retry_timer = loop_.AddTimerAfter(wait, [this, &receiver] {
    receiver.retry_timer = 0;
    Pump(receiver);
  });
}

Duration Notifier::Backoff(int failures) {
  // Exponential with "equal jitter": half the step fixed, half random, so agents that lost the
  // same receiver at the same moment do not all come back in step.
  Duration step = kFirstRetry;
  for (int i = 1; i < failures && step < kMaxRetry; ++i) step *= 2;
  step = std::min(step, kMaxRetry);
  std::uniform_int_distribution<int64_t> jitter(0, step.count() / 2);
  return step / 2 + Duration(jitter(random_));
}

std::vector<prometheus::MetricFamily> Notifier::Families() const {
  MetricSet set;
  for (const auto& [name, receiver] : receivers_) {
    const Labels labels = {{"receiver", name}};
    for (const char* result : {"success", "failed", "rejected"}) {
      auto it = receiver->results.find(result);
      set.Counter("sre_agent_notifications_total",
                  "Notifications by delivery attempt outcome: success, failed (will be retried), "
                  "rejected (the receiver refused it: not retried).",
                  WithLabels(labels, {{"result", result}}),
                  it == receiver->results.end() ? 0 : static_cast<double>(it->second));
    }
    set.Gauge("sre_agent_notification_queue_length",
              "Notifications waiting for delivery to the receiver.", labels,
              static_cast<double>(receiver->queue.size() + receiver->in_flight.size()));
    for (const auto& [reason, count] : receiver->dropped) {
      set.Counter("sre_agent_notifications_dropped_total", kDroppedHelp,
                  WithLabels(labels, {{"reason", reason}}), static_cast<double>(count));
    }
  }
  for (const auto& [name, count] : removed_drops_) {
    set.Counter("sre_agent_notifications_dropped_total", kDroppedHelp,
                {{"receiver", name}, {"reason", "receiver_removed"}}, static_cast<double>(count));
  }
  if (unrouted_ > 0) {
    set.Counter("sre_agent_notifications_dropped_total", kDroppedHelp,
                {{"receiver", ""}, {"reason", "no_route"}}, static_cast<double>(unrouted_));
  }
  if (spool_) {
    set.Gauge("sre_agent_notification_spool_bytes", "Size of the alert spool file.", {},
              static_cast<double>(spool_->file_bytes()));
    set.Gauge("sre_agent_notification_spool_recovered",
              "Notifications the spool held when the agent opened it (not yet delivered).", {},
              static_cast<double>(spool_report_.entries));
    set.Gauge("sre_agent_notification_spool_corrupt_bytes",
              "Bytes of the spool skipped as corrupt or torn when the agent opened it.", {},
              static_cast<double>(spool_report_.bytes_skipped));
  }
  return set.Take();
}

std::vector<ReceiverView> Notifier::Views() const {
  std::vector<ReceiverView> views;
  for (const auto& [name, receiver] : receivers_) {
    views.push_back({name, receiver->config.type,
                     receiver->queue.size() + receiver->in_flight.size(), receiver->last_error,
                     receiver->last_success_unix});
  }
  return views;
}

}  // namespace sre::alerting
