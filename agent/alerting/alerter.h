#pragma once

#include <prometheus/metric_family.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/alerting/alerting_config.h"
#include "agent/alerting/notifier.h"
#include "agent/alerting/rule_engine.h"
#include "agent/core/log.h"
#include "agent/net/curl_multi.h"
#include "agent/net/event_loop.h"

namespace sre::alerting {

/// What the landing page shows of alerting. Immutable once built.
struct AlertingView {
  std::vector<AlertView> alerts;
  std::vector<ReceiverView> receivers;
};

/// Alerting on the event loop: the rules over every source's latest families, evaluated once
/// per loop turn after any source published (not once per source: a hundred checks finishing
/// together cost one round), and again when a `for` or `keep_firing_for` runs out; changes go
/// to the Notifier, firing alerts are re-sent to Alertmanager every resend delay, and the
/// alerts' series are handed to `publish`. Loop-thread only, except view().
class Alerter {
 public:
  using Publish = std::function<void(const std::vector<prometheus::MetricFamily>&)>;

  Alerter(net::EventLoop& loop, net::CurlMulti& curl, Logger& log, Publish publish);
  ~Alerter();

  /// Applies the `alerting:` section; fails, changing nothing, when the spool cannot be opened.
  /// `evaluation_interval` is the agent's default check interval (the lease's floor).
  Status Configure(std::shared_ptr<const AlertingConfig> config, Duration evaluation_interval);

  /// A source's latest families (copied only when there are rules), or its removal.
  void SetSource(const std::string& source, const std::vector<prometheus::MetricFamily>& families);
  void RemoveSource(const std::string& source);

  /// The alerts and receivers as of the last evaluation. Thread-safe.
  std::shared_ptr<const AlertingView> view() const;

 private:
  void RequestEvaluation();
  void Evaluate();
  void PublishState();  // the alerts' and the deliveries' series, and the view
  void ScheduleResend();

  net::EventLoop& loop_;
  Publish publish_;
  RuleEngine engine_;
  Notifier notifier_;
  std::shared_ptr<const AlertingConfig> config_;
  bool evaluation_posted_ = false;
  net::EventLoop::TimerId deadline_timer_ = 0;
  net::EventLoop::TimerId resend_timer_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);

  mutable std::mutex view_mutex_;
  std::shared_ptr<const AlertingView> view_ = std::make_shared<const AlertingView>();
};

}  // namespace sre::alerting
