#include "agent/alerting/alerter.h"

namespace sre::alerting {

Alerter::Alerter(net::EventLoop& loop, net::CurlMulti& curl, Logger& log, Publish publish)
    : loop_(loop),
      publish_(std::move(publish)),
      notifier_(loop, curl, log, [this] { PublishState(); }) {}

Alerter::~Alerter() {
  loop_.CancelTimer(deadline_timer_);
  loop_.CancelTimer(resend_timer_);
}

Status Alerter::Configure(std::shared_ptr<const AlertingConfig> config,
                          Duration evaluation_interval) {
  if (Status s = notifier_.Configure(config, evaluation_interval); !s.ok()) return s;
  const bool resend_changed = !config_ || config_->resend_delay != config->resend_delay;
  engine_.Configure(config);
  config_ = std::move(config);
  if (resend_changed) {
    loop_.CancelTimer(resend_timer_);
    resend_timer_ = 0;
  }
  if (resend_timer_ == 0) ScheduleResend();
  RequestEvaluation();
  return Status::Ok();
}

void Alerter::SetSource(const std::string& source,
                        const std::vector<prometheus::MetricFamily>& families) {
  if (engine_.rule_count() == 0) return;  // no rules: nothing to keep a second copy for
  engine_.SetSource(source, families);
  RequestEvaluation();
}

void Alerter::RemoveSource(const std::string& source) {
  engine_.RemoveSource(source);
  RequestEvaluation();
}

void Alerter::RequestEvaluation() {
  if (evaluation_posted_) return;
  evaluation_posted_ = true;
  loop_.Post([this, alive = std::weak_ptr<int>(alive_)] {
    if (!alive.lock()) return;
    evaluation_posted_ = false;
    Evaluate();
  });
}

void Alerter::Evaluate() {
  const TimePoint now = loop_.clock().Now();
  notifier_.Notify(engine_.Evaluate(now, loop_.clock().WallSeconds()));
  loop_.CancelTimer(deadline_timer_);
  deadline_timer_ = 0;
  if (auto next = engine_.NextDeadline(now)) {
    deadline_timer_ = loop_.AddTimer(*next, [this] {
      deadline_timer_ = 0;
      Evaluate();
    });
  }
  PublishState();
}

void Alerter::PublishState() {
  std::vector<prometheus::MetricFamily> families = engine_.Families();
  for (auto& family : notifier_.Families()) families.push_back(std::move(family));
  publish_(families);
  auto view = std::make_shared<AlertingView>(AlertingView{engine_.Views(), notifier_.Views()});
  std::lock_guard lock(view_mutex_);
  view_ = std::move(view);
}

void Alerter::ScheduleResend() {
  resend_timer_ = loop_.AddTimerAfter(config_->resend_delay, [this] {
    notifier_.Resend(engine_.Active());
    ScheduleResend();
  });
}

std::shared_ptr<const AlertingView> Alerter::view() const {
  std::lock_guard lock(view_mutex_);
  return view_;
}

}  // namespace sre::alerting
