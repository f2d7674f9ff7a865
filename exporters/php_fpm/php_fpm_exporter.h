#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/core/exporter_factory.h"
#include "agent/net/dns_resolver.h"
#include "exporters/php_fpm/php_fpm_config.h"
#include "exporters/php_fpm/pool_scrape.h"

namespace sre::exporters::php_fpm {

/// Reads the status pages of the check's pools at once, the configured ones and those whose
/// sockets match `socket_glob` now, and reports hipages php-fpm_exporter's series per pool
/// (labels `pool`, `scrape_uri`, plus `check`). A pool that fails reports phpfpm_up 0 with
/// phpfpm_failure_info{reason} and has no effect on the others. Loop-thread only.
class PhpFpmExporter final : public Exporter {
 public:
  /// `for_people`: also an observation per worker (with `processes`), for sre-probe's table.
  PhpFpmExporter(const PhpFpmConfig& config, net::EventLoop& loop, net::DnsResolver& resolver,
                 bool for_people);
  ~PhpFpmExporter() override;

  // Exporter
  void Collect(TimePoint deadline, Done done) override;
  void Cancel() override;

 private:
  struct Pool {
    Pool(ScrapeUri uri, bool discovered) : uri(std::move(uri)), discovered(discovered) {}
    ScrapeUri uri;
    bool discovered;
    std::string name;       // the pool name php-fpm last reported; "" until it answers
    uint64_t failures = 0;  // phpfpm_scrape_failures
    std::unique_ptr<PoolScrape> scrape;
    PoolScrapeResult result;
  };

  Status Discover();
  void OnScraped(size_t index, PoolScrapeResult result);
  void Finish();

  const PhpFpmConfig config_;
  net::EventLoop& loop_;
  net::DnsResolver& resolver_;
  const bool for_people_;
  std::vector<Pool> pools_;  // the configured ones in order, then the discovered ones by path

  // The running collection.
  Done done_;
  size_t pending_ = 0;
  Status discovery_ = Status::Ok();
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // for tasks posted to the loop
};

/// The `php_fpm` exporter type.
std::unique_ptr<ExporterFactory> MakePhpFpmFactory();

}  // namespace sre::exporters::php_fpm
