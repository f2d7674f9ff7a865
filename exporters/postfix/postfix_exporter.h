#pragma once

#include <memory>

#include "agent/core/exporter_factory.h"
#include "exporters/postfix/postfix_config.h"
#include "exporters/postfix/showq_client.h"

namespace sre::exporters::postfix {

/// Reads Postfix's queue from the showq socket at every run and reports postfix_exporter's
/// queue series (depth, message size and age histograms per queue, postfix_up{path}) plus the
/// oldest message's age. The listing is reduced as it streams in, so its size bounds only the
/// time, not the memory. Loop-thread only.
class PostfixExporter final : public Exporter {
 public:
  PostfixExporter(const PostfixConfig& config, net::EventLoop& loop);
  ~PostfixExporter() override;

  // Exporter
  void Collect(TimePoint deadline, Done done) override;
  void Cancel() override;

 private:
  void Finish(ShowqResult showq);

  const PostfixConfig config_;
  net::EventLoop& loop_;
  std::unique_ptr<ShowqClient> showq_;
  Done done_;
};

/// The `postfix` exporter type.
std::unique_ptr<ExporterFactory> MakePostfixFactory();

}  // namespace sre::exporters::postfix
