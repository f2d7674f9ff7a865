#pragma once

#include <memory>

#include "agent/core/exporter_factory.h"
#include "exporters/postfix/journal_follower.h"
#include "exporters/postfix/log_follower.h"
#include "exporters/postfix/mail_log.h"
#include "exporters/postfix/postfix_config.h"
#include "exporters/postfix/showq_client.h"

namespace sre::exporters::postfix {

/// At every run: reads what the mail logs gained since the last run into postfix_exporter's
/// delivery counters, then Postfix's queue from the showq socket (depth, message size and age
/// histograms per queue, the oldest message's age). postfix_up{path} says, per source, whether
/// it could be read. The listing is reduced as it streams in, so its size bounds the time, not
/// the memory; log reading is bounded per run. Loop-thread only.
class PostfixExporter final : public Exporter {
 public:
  PostfixExporter(const PostfixConfig& config, net::EventLoop& loop);
  ~PostfixExporter() override;

  // Exporter
  void Collect(TimePoint deadline, Done done) override;
  void Cancel() override;

 private:
  void ReadLogs();
  void Finish(ShowqResult showq);
  void AddLogSource(MetricSet& set, CollectResult& result, const std::string& path,
                    const Status& status, Reason reason, const FollowStats& stats) const;

  const PostfixConfig config_;
  net::EventLoop& loop_;
  MailLogCounters counters_;
  std::unique_ptr<FileFollower> log_file_;
  std::unique_ptr<GlobFollower> log_pods_;
  std::unique_ptr<JournalFollower> log_journal_;
  std::vector<std::unique_ptr<CriDecoder>> decoders_;  // one per pod log file
  Status log_file_status_ = Status::Ok();
  Status log_pods_status_ = Status::Ok();
  Status log_journal_status_ = Status::Ok();
  std::unique_ptr<ShowqClient> showq_;
  Done done_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // for tasks posted to the loop
};

/// The `postfix` exporter type.
std::unique_ptr<ExporterFactory> MakePostfixFactory();

}  // namespace sre::exporters::postfix
