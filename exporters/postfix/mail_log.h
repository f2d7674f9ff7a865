#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/metric_set.h"

// Postfix's mail log turned into postfix_exporter's counters and histograms, one line at a time.
// Pure (lines in, families out), fuzzed by tests/fuzz/mail_log_fuzz.cc.
namespace sre::exporters::postfix {

/// The syslog tag and message of one log line.
struct LogLine {
  std::string_view process;  ///< "postfix" (or "postfix-NAME" of a second instance), "opendkim"
  std::string_view service;  ///< the service type: "smtpd" also for "postfix/submission/smtpd"
  std::string_view level;    ///< "warning", "error", "fatal", "panic" or ""
  std::string_view message;  ///< after "]: ", the level prefix included
};

/// Finds the `postfix/SERVICE[PID]: ` tag anywhere in `line` (after a syslog or RFC 3339 time
/// and host, a CRI prefix, or nothing, as journald's MESSAGE with its identifier), like
/// postfix_exporter does; nullopt for lines of other programs and for garbage.
std::optional<LogLine> SplitLogLine(std::string_view line);

/// The counters of the lines seen so far. Not thread-safe.
class MailLogCounters {
 public:
  MailLogCounters();

  /// Counts one line (without its newline).
  void Consume(std::string_view line);
  /// Appends every family under `labels`: the unlabelled ones always (at 0 before their first
  /// line, as postfix_exporter does), the labelled ones once they have a series.
  void AddTo(MetricSet& set, const Labels& labels) const;

  uint64_t lines() const { return lines_; }
  uint64_t unsupported() const { return unsupported_; }

 private:
  // One family's series, keyed by their label values joined with NUL (in label order), so a
  // counted line looks its series up in a reused buffer instead of allocating a key.
  struct Counters {
    std::vector<std::string> label_names;
    std::map<std::string, double, std::less<>> series;
    std::string key;  // scratch
    void Inc(std::initializer_list<std::string_view> values);
  };
  struct Histograms {
    std::vector<std::string> label_names;
    std::vector<double> bounds;
    std::map<std::string, Histogram, std::less<>> series;
    std::string key;  // scratch
    void Observe(std::initializer_list<std::string_view> values, double value);
  };

  void Smtpd(std::string_view message, const LogLine& line);
  void Smtp(std::string_view message, const LogLine& line);
  void Qmgr(std::string_view message, const LogLine& line);
  void Cleanup(std::string_view message, const LogLine& line);
  void Delays(std::string_view message, Histograms& family, std::string_view relay_label,
              const LogLine& line);
  void Unsupported(std::string_view service, std::string_view level);

  uint64_t lines_ = 0;
  uint64_t unsupported_ = 0;
  // Unlabelled counters, always exported.
  double cleanup_processed_ = 0, cleanup_rejected_ = 0, cleanup_not_accepted_ = 0;
  double qmgr_removed_ = 0, qmgr_expired_ = 0;
  double smtp_deferred_ = 0, smtp_status_deferred_ = 0, smtp_connection_timed_out_ = 0;
  double smtpd_connects_ = 0, smtpd_disconnects_ = 0, smtpd_fcrdns_errors_ = 0;
  double smtpd_sasl_failures_ = 0, bounce_non_delivery_ = 0, virtual_delivered_ = 0;
  Histogram qmgr_recipients_;
  Histogram qmgr_size_;
  // Labelled families.
  Histograms lmtp_delays_, pipe_delays_, smtp_delays_;
  Counters smtp_tls_, smtp_processed_, smtp_deferred_dsn_, smtp_bounced_dsn_;
  Counters smtpd_lost_, smtpd_processed_, smtpd_rejected_, smtpd_tls_;
  Counters opendkim_signed_, unsupported_entries_;
};

}  // namespace sre::exporters::postfix
