#include "exporters/postfix/postfix_exporter.h"

#include <fmt/format.h>

#include "agent/base/callback.h"
#include "agent/core/metric_set.h"

namespace sre::exporters::postfix {
namespace {

// A queue listing is about 255 bytes per message (the recorded 10,000-message stream is
// 2,549,908 bytes): this is about a million messages.
constexpr uint64_t kMaxShowqBytes = uint64_t{256} << 20;
// Log read per source and run, synchronously on the loop: 111,000 lines of 151 bytes, about
// 25 ms at the measured 4.35 M lines per CPU-second, so other checks wait about that long; a larger
// backlog (an agent started with log_start: beginning) is worked off over the next runs.
constexpr size_t kMaxLogBytesPerRun = size_t{16} << 20;
constexpr size_t kMaxJournalEntriesPerRun = 100000;

// postfix_exporter's help texts (kumina 0.3.0; queue depth from the maintained fork).
constexpr std::string_view kUpHelp = "Whether scraping Postfix's metrics was successful.";
constexpr std::string_view kDepthHelp = "Number of messages in Postfix's message queue";
constexpr std::string_view kSizeHelp = "Size of messages in Postfix's message queue, in bytes";
constexpr std::string_view kAgeHelp = "Age of messages in Postfix's message queue, in seconds";

// "3h 25m", "41s": ages people read at a glance.
std::string Age(double seconds) {
  const auto s = static_cast<int64_t>(seconds);
  if (s >= 86400) return fmt::format("{}d {}h", s / 86400, s % 86400 / 3600);
  if (s >= 3600) return fmt::format("{}h {}m", s / 3600, s % 3600 / 60);
  if (s >= 60) return fmt::format("{}m {}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

// "deferred  ok  oldest 3h 25m  bytes 53630  messages 15": the figures carry the numbers.
Observation QueueObservation(const std::string& queue, const QueueStats& stats, double now) {
  const std::string message =
      stats.oldest_arrival ? "oldest " + Age(std::max(0.0, now - *stats.oldest_arrival)) : "empty";
  return {queue,
          true,
          Reason::kNone,
          message,
          Duration(0),
          {{"messages", static_cast<double>(stats.messages)},
           {"bytes", stats.size.ToMetric().sample_sum}},
          {}};
}

}  // namespace

PostfixExporter::PostfixExporter(const PostfixConfig& config, net::EventLoop& loop)
    : config_(config), loop_(loop) {
  const bool from_start = config_.log_start == "beginning";
  if (!config_.log_file.empty()) {
    log_file_ = std::make_unique<FileFollower>(config_.log_file, from_start);
  }
  if (!config_.log_pods.empty()) {
    log_pods_ = std::make_unique<GlobFollower>(config_.log_pods, from_start);
  }
  if (!config_.log_journal.empty()) {
    log_journal_ = std::make_unique<JournalFollower>(config_.log_journal, from_start);
  }
}

PostfixExporter::~PostfixExporter() { Cancel(); }

void PostfixExporter::Cancel() { done_ = nullptr; }

void PostfixExporter::Collect(TimePoint deadline, Done done) {
  done_ = std::move(done);
  ReadLogs();
  if (config_.showq_path.empty()) {
    loop_.Post([this, alive = std::weak_ptr<int>(alive_)] {
      if (alive.lock()) Finish(ShowqResult());
    });
    return;
  }
  showq_ = ShowqClient::Start(loop_, config_.showq_path, deadline, kMaxShowqBytes,
                              [this](ShowqResult result) { Finish(std::move(result)); });
}

void PostfixExporter::ReadLogs() {
  const LineSink count = [this](std::string_view line) { counters_.Consume(line); };
  if (log_file_) log_file_status_ = log_file_->ReadNew(kMaxLogBytesPerRun, count);
  if (log_pods_) {
    log_pods_status_ = log_pods_->ReadNew(kMaxLogBytesPerRun, [&](const std::string&) -> LineSink {
      // Each file has its own partial record; decoders live as long as the exporter, which
      // bounds them by the files ever seen.
      decoders_.push_back(std::make_unique<CriDecoder>(count));
      return [decoder = decoders_.back().get()](std::string_view record) { (*decoder)(record); };
    });
  }
  if (log_journal_) log_journal_status_ = log_journal_->ReadNew(kMaxJournalEntriesPerRun, count);
}

void PostfixExporter::AddLogSource(MetricSet& set, CollectResult& result, const std::string& path,
                                   const Status& status, Reason reason,
                                   const FollowStats& stats) const {
  const Labels labels = {{"check", config_.settings.check}, {"path", path}};
  set.Gauge("postfix_up", kUpHelp, labels, status.ok() ? 1 : 0);
  set.Counter("postfix_log_read_bytes_total", "Bytes of mail log read.", labels,
              static_cast<double>(stats.bytes));
  set.Counter("postfix_log_rotations_total", "New files found at the log's path.", labels,
              static_cast<double>(stats.rotations));
  set.Counter("postfix_log_truncations_total",
              "Times the log shrank under the reader (copytruncate); lines written just before "
              "are lost.",
              labels, static_cast<double>(stats.truncations));
  set.Counter("postfix_log_long_lines_total", "Log lines over 64 KiB, dropped.", labels,
              static_cast<double>(stats.long_lines));
  if (!status.ok()) {
    set.Gauge("postfix_failure_info", "Why the last read of the source failed.",
              WithLabels(labels, {{"reason", std::string(ReasonName(reason))}}), 1);
    if (result.success) {
      result.success = false;
      result.reason = reason;
      result.message = status.message();
    }
  }
  result.observations.push_back(
      {path,
       status.ok(),
       Reason::kNone,
       status.ok() ? fmt::format("{} lines read", stats.lines) : status.message(),
       Duration(0),
       {{"lines", static_cast<double>(stats.lines)}},
       {}});
}

void PostfixExporter::Finish(ShowqResult showq) {
  const Labels check = {{"check", config_.settings.check}};
  CollectResult result;
  result.success = true;
  MetricSet set;
  if (!config_.showq_path.empty()) {
    const Labels path = WithLabels(check, {{"path", config_.showq_path}});
    const bool ok = showq.reason == Reason::kNone;
    set.Gauge("postfix_up", kUpHelp, path, ok ? 1 : 0);
    if (!ok) {
      result.success = false;
      result.reason = showq.reason;
      result.message = fmt::format("showq: {}", showq.message);
      set.Gauge("postfix_failure_info", "Why the last read of the source failed.",
                WithLabels(path, {{"reason", std::string(ReasonName(showq.reason))}}), 1);
      result.observations.push_back(
          {"showq", false, showq.reason, showq.message, showq.elapsed, {}, {}});
    } else {
      const double now = loop_.clock().WallSeconds();
      for (const auto& [queue, stats] : showq.parser->queues()) {
        const Labels labels = WithLabels(check, {{"queue", queue}});
        set.Gauge("postfix_showq_queue_depth", kDepthHelp, labels,
                  static_cast<double>(stats.messages));
        set.Histogram("postfix_showq_message_size_bytes", kSizeHelp, labels, stats.size.ToMetric());
        set.Histogram("postfix_showq_message_age_seconds", kAgeHelp, labels, stats.age.ToMetric());
        set.Gauge("postfix_showq_oldest_message_age_seconds",
                  "Age of the oldest message in the queue, in seconds; 0 when it is empty.", labels,
                  stats.oldest_arrival ? std::max(0.0, now - *stats.oldest_arrival) : 0);
        result.observations.push_back(QueueObservation(queue, stats, now));
      }
      result.message = fmt::format("{} messages queued", showq.parser->messages());
    }
  }
  if (log_file_) {
    AddLogSource(set, result, config_.log_file, log_file_status_, log_file_->error_reason(),
                 log_file_->stats());
  }
  if (log_pods_) {
    AddLogSource(set, result, config_.log_pods, log_pods_status_, log_pods_->error_reason(),
                 log_pods_->stats());
  }
  if (log_journal_) {
    AddLogSource(set, result, config_.log_journal, log_journal_status_,
                 log_journal_->error_reason(), log_journal_->stats());
  }
  if (log_file_ || log_pods_ || log_journal_) {
    counters_.AddTo(set, check);
    if (result.success && config_.showq_path.empty()) {
      result.message = fmt::format("{} log lines read", counters_.lines());
    }
  }
  result.families = set.Take();
  CallOnce(done_, std::move(result));
}

namespace {

class PostfixFactory final : public TypedExporterFactory<PostfixConfig> {
 public:
  std::string_view name() const override { return "postfix"; }
  std::string_view summary() const override {
    return "Postfix queues from showq and delivery counters from the mail log (postfix_exporter "
           "names)";
  }

 protected:
  const config::Schema<PostfixConfig>& TypedSchema() const override { return PostfixSchema(); }
  std::string Target(const PostfixConfig& config) const override {
    std::vector<std::string> sources;
    for (const std::string* source :
         {&config.showq_path, &config.log_file, &config.log_pods, &config.log_journal}) {
      if (!source->empty()) sources.push_back(*source);
    }
    return fmt::format("{}", fmt::join(sources, ", "));
  }
  Result<std::unique_ptr<Exporter>> Make(const PostfixConfig& config,
                                         ExporterEnv& env) const override {
    return std::unique_ptr<Exporter>(std::make_unique<PostfixExporter>(config, env.loop));
  }
};

}  // namespace

std::unique_ptr<ExporterFactory> MakePostfixFactory() { return std::make_unique<PostfixFactory>(); }

}  // namespace sre::exporters::postfix
