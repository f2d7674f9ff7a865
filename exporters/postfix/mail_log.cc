#include "exporters/postfix/mail_log.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace sre::exporters::postfix {
namespace {

// postfix_exporter's buckets.
const std::vector<double> kDelayBuckets = {1e-3, 1e-2, 1e-1, 1, 10, 60, 3600, 86400, 172800};
const std::vector<double> kRecipientBuckets = {1, 2, 4, 8, 16, 32, 64, 128};
const std::vector<double> kSizeBuckets = {1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
const std::vector<std::string> kTlsLabels = {"trust", "protocol", "cipher", "secret_bits",
                                             "algorithm_bits"};

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '+' || c == '-';
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::optional<double> ParseNumber(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/// The value after `needle` (", relay=") in `message`, up to the next ", " (or space when
/// `to_space`); nullopt without one.
std::optional<std::string_view> Field(std::string_view message, std::string_view needle,
                                      bool to_space = false) {
  const size_t at = message.find(needle);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view value = message.substr(at + needle.size());
  return value.substr(0, value.find(to_space ? " " : ", "));
}

/// Joins label values into a series key, each ended by NUL. Only a garbage line holds a NUL in
/// a value; at worst it lands in another series, never with more labels than names.
void JoinKey(std::string& key, std::initializer_list<std::string_view> values) {
  key.clear();
  for (std::string_view value : values) key.append(value).push_back('\0');
}

/// The label values of a series key, in order.
std::vector<std::string_view> SplitKey(std::string_view key) {
  std::vector<std::string_view> values;
  while (!key.empty()) {
    const size_t nul = key.find('\0');
    values.push_back(key.substr(0, nul));
    key.remove_prefix(nul + 1);
  }
  return values;
}

/// Splits off the next space-separated word of `text`.
std::string_view Word(std::string_view& text) {
  const size_t space = text.find(' ');
  const std::string_view word = text.substr(0, space);
  text.remove_prefix(space == std::string_view::npos ? text.size() : space + 1);
  return word;
}

/// "Trusted TLS connection established to host[1.2.3.4]:25: TLSv1.3 with cipher NAME
/// (256/256 bits)" (`direction` "to" or "from") as trust, protocol, cipher and the two bit
/// counts.
std::optional<std::array<std::string_view, 5>> TlsConnection(std::string_view message,
                                                             std::string_view direction) {
  const std::string_view trust = Word(message);
  const std::string expected = "TLS connection established " + std::string(direction) + " ";
  if (trust.empty() || !message.starts_with(expected)) return std::nullopt;
  message.remove_prefix(expected.size());
  const size_t peer_end = message.find(": ");
  if (peer_end == std::string_view::npos) return std::nullopt;
  message.remove_prefix(peer_end + 2);
  const std::string_view protocol = Word(message);
  if (Word(message) != "with" || Word(message) != "cipher") return std::nullopt;
  const std::string_view cipher = Word(message);
  // Postfix 3.4 and later go on after the bits with " key-exchange X25519 ...".
  const size_t bits = message.find(" bits)");
  if (!message.starts_with("(") || bits == std::string_view::npos) return std::nullopt;
  message = message.substr(1, bits - 1);
  const size_t slash = message.find('/');
  if (slash == std::string_view::npos || !ParseNumber(message.substr(0, slash)) ||
      !ParseNumber(message.substr(slash + 1))) {
    return std::nullopt;
  }
  return std::array<std::string_view, 5>{trust, protocol, cipher, message.substr(0, slash),
                                         message.substr(slash + 1)};
}

Labels SeriesLabels(const Labels& base, const std::vector<std::string>& names,
                    std::string_view key) {
  Labels labels = base;
  const std::vector<std::string_view> values = SplitKey(key);
  for (size_t i = 0; i < values.size() && i < names.size(); ++i) {
    labels.push_back({names[i], std::string(values[i])});
  }
  return labels;
}

}  // namespace

std::optional<LogLine> SplitLogLine(std::string_view line) {
  // The tag ends at the first "]: " of a syslog line; look there first, and further only when
  // that tag is another program's.
  for (size_t end = line.find("]: "); end != std::string_view::npos;
       end = line.find("]: ", end + 1)) {
    const size_t bracket = line.rfind('[', end);
    if (bracket == std::string_view::npos) return std::nullopt;
    const std::string_view pid = line.substr(bracket + 1, end - bracket - 1);
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), IsDigit)) continue;
    const size_t space = line.rfind(' ', bracket);
    const size_t start = space == std::string_view::npos ? 0 : space + 1;
    const std::string_view tag = line.substr(start, bracket - start);  // "postfix/submission/smtpd"
    if (tag.empty() ||
        !std::all_of(tag.begin(), tag.end(), [](char c) { return IsNameChar(c) || c == '/'; })) {
      continue;
    }
    LogLine out;
    out.process = tag.substr(0, tag.find('/'));
    if (out.process != "opendkim" && out.process != "postfix" &&
        !out.process.starts_with("postfix-")) {
      continue;
    }
    out.service = tag.substr(tag.rfind('/') + 1);
    if (out.service == out.process) out.service = {};
    out.message = line.substr(end + 3);
    for (std::string_view level : {"warning", "error", "fatal", "panic"}) {
      if (out.message.starts_with(level) && out.message.substr(level.size(), 2) == ": ") {
        out.level = level;
      }
    }
    return out;
  }
  return std::nullopt;
}

void MailLogCounters::Counters::Inc(std::initializer_list<std::string_view> values) {
  JoinKey(key, values);
  auto it = series.find(key);
  if (it == series.end()) it = series.emplace(key, 0).first;
  ++it->second;
}

void MailLogCounters::Histograms::Observe(std::initializer_list<std::string_view> values,
                                          double value) {
  JoinKey(key, values);
  auto it = series.find(key);
  if (it == series.end()) it = series.emplace(key, Histogram(bounds)).first;
  it->second.Observe(value);
}

MailLogCounters::MailLogCounters()
    : qmgr_recipients_(kRecipientBuckets),
      qmgr_size_(kSizeBuckets),
      lmtp_delays_{{"stage"}, kDelayBuckets, {}, {}},
      pipe_delays_{{"relay", "stage"}, kDelayBuckets, {}, {}},
      smtp_delays_{{"stage"}, kDelayBuckets, {}, {}},
      smtp_tls_{kTlsLabels, {}, {}},
      smtp_processed_{{"status"}, {}, {}},
      smtp_deferred_dsn_{{"dsn"}, {}, {}},
      smtp_bounced_dsn_{{"dsn"}, {}, {}},
      smtpd_lost_{{"after_stage"}, {}, {}},
      smtpd_processed_{{"sasl_method"}, {}, {}},
      smtpd_rejected_{{"code"}, {}, {}},
      smtpd_tls_{kTlsLabels, {}, {}},
      opendkim_signed_{{"subject", "domain"}, {}, {}},
      unsupported_entries_{{"service", "level"}, {}, {}} {}

void MailLogCounters::Consume(std::string_view text) {
  ++lines_;
  const std::optional<LogLine> line = SplitLogLine(text);
  if (!line) {
    Unsupported("", "");
    return;
  }
  const std::string_view m = line->message;
  if (line->process == "opendkim") {
    // "ID: DKIM-Signature field added (s=SELECTOR, d=DOMAIN)"
    const size_t colon = m.find(": DKIM-Signature field added (s=");
    const size_t comma = m.find(", d=");
    if (colon != std::string_view::npos && comma != std::string_view::npos && comma > colon &&
        m.ends_with(")")) {
      const size_t s = colon + 32;
      opendkim_signed_.Inc({m.substr(s, comma - s), m.substr(comma + 4, m.size() - comma - 5)});
    } else {
      Unsupported(line->process, line->level);
    }
    return;
  }
  const std::string_view service = line->service;
  if (service == "smtpd") {
    Smtpd(m, *line);
  } else if (service == "smtp") {
    Smtp(m, *line);
  } else if (service == "qmgr") {
    Qmgr(m, *line);
  } else if (service == "cleanup") {
    Cleanup(m, *line);
  } else if (service == "lmtp") {
    Delays(m, lmtp_delays_, "", *line);
  } else if (service == "pipe") {
    Delays(m, pipe_delays_, "relay", *line);
  } else if (service == "bounce" &&
             m.find(": sender non-delivery notification: ") != std::string_view::npos) {
    ++bounce_non_delivery_;
  } else if (service == "virtual" && m.ends_with(", status=sent (delivered to maildir)")) {
    ++virtual_delivered_;
  } else {
    Unsupported(service, line->level);
  }
}

void MailLogCounters::Smtpd(std::string_view m, const LogLine& line) {
  if (m.starts_with("connect from ")) {
    ++smtpd_connects_;
  } else if (m.starts_with("disconnect from ")) {
    ++smtpd_disconnects_;
  } else if (m.starts_with("warning: hostname ") &&
             m.find(" does not resolve to address ") != std::string_view::npos) {
    ++smtpd_fcrdns_errors_;
  } else if (std::string_view rest = m.starts_with("NOQUEUE: ") ? m.substr(9) : m;
             rest.starts_with("lost connection after ") &&
             rest.find(" from ", 22) != std::string_view::npos) {
    rest.remove_prefix(22);
    smtpd_lost_.Inc({Word(rest)});
  } else if (m.find(": client=") != std::string_view::npos) {
    // "sasl_method=PLAIN," as the line has it: the label is the method alone.
    std::string_view method = Field(m, ", sasl_method=", true).value_or("");
    if (method.ends_with(',')) method.remove_suffix(1);
    smtpd_processed_.Inc({method});
  } else if (m.starts_with("NOQUEUE: reject: RCPT from ")) {
    std::string_view rest = m.substr(27);
    const size_t colon = rest.find(": ");
    rest.remove_prefix(colon == std::string_view::npos ? rest.size() : colon + 2);
    const std::string_view code = Word(rest);
    if (code.size() == 3 && ParseNumber(code)) {
      smtpd_rejected_.Inc({code});
    } else {
      Unsupported(line.service, line.level);
    }
  } else if (m.starts_with("warning: ") && m.find(": SASL ") != std::string_view::npos &&
             m.find(" authentication failed: ") != std::string_view::npos) {
    ++smtpd_sasl_failures_;
  } else if (auto tls = TlsConnection(m, "from")) {
    smtpd_tls_.Inc({(*tls)[0], (*tls)[1], (*tls)[2], (*tls)[3], (*tls)[4]});
  } else {
    Unsupported(line.service, line.level);
  }
}

void MailLogCounters::Smtp(std::string_view m, const LogLine& line) {
  if (Field(m, ", relay=") && Field(m, ", delays=")) {
    Delays(m, smtp_delays_, "", line);
    const auto status = Field(m, ", status=", true);
    if (!status) return;
    smtp_processed_.Inc({*status});
    const auto dsn = Field(m, ", dsn=");
    if (*status == "deferred") {
      ++smtp_status_deferred_;
      ++smtp_deferred_;
      if (dsn) smtp_deferred_dsn_.Inc({*dsn});
    } else if (*status == "bounced" && dsn) {
      smtp_bounced_dsn_.Inc({*dsn});
    }
  } else if (auto tls = TlsConnection(m, "to")) {
    smtp_tls_.Inc({(*tls)[0], (*tls)[1], (*tls)[2], (*tls)[3], (*tls)[4]});
  } else if (m.starts_with("connect to ") && m.ends_with(": Connection timed out")) {
    ++smtp_connection_timed_out_;
  } else {
    Unsupported(line.service, line.level);
  }
}

void MailLogCounters::Qmgr(std::string_view m, const LogLine& line) {
  const auto size = Field(m, ", size=");
  const auto nrcpt = Field(m, ", nrcpt=", true);
  if (size && nrcpt && ParseNumber(*size) && ParseNumber(*nrcpt)) {
    qmgr_size_.Observe(*ParseNumber(*size));
    qmgr_recipients_.Observe(*ParseNumber(*nrcpt));
  } else if (m.ends_with(": removed")) {
    ++qmgr_removed_;
  } else if (m.find(", status=expired, returned to sender") != std::string_view::npos ||
             m.find(", status=force-expired, returned to sender") != std::string_view::npos) {
    ++qmgr_expired_;
  } else {
    Unsupported(line.service, line.level);
  }
}

void MailLogCounters::Cleanup(std::string_view m, const LogLine& line) {
  if (m.find(": message-id=<") != std::string_view::npos) {
    ++cleanup_processed_;
  } else if (m.find(": reject: ") != std::string_view::npos) {
    ++cleanup_rejected_;
  } else if (m.find(": milter-reject: ") != std::string_view::npos) {
    ++cleanup_not_accepted_;
  } else {
    Unsupported(line.service, line.level);
  }
}

void MailLogCounters::Delays(std::string_view m, Histograms& family, std::string_view relay_label,
                             const LogLine& line) {
  // "delays=a/b/c/d": before the queue manager, in it, connection setup, transmission.
  const auto relay = Field(m, ", relay=");
  const auto delays = Field(m, ", delays=");
  double values[4];
  std::string_view rest = delays.value_or("");
  for (double& value : values) {
    const size_t slash = rest.find('/');
    const auto parsed = ParseNumber(rest.substr(0, slash));
    if (!relay || !parsed) {
      Unsupported(line.service, line.level);
      return;
    }
    value = *parsed;
    rest.remove_prefix(slash == std::string_view::npos ? rest.size() : slash + 1);
  }
  static constexpr std::string_view kStages[] = {"before_queue_manager", "queue_manager",
                                                 "connection_setup", "transmission"};
  for (size_t i = 0; i < 4; ++i) {
    if (relay_label.empty()) {
      family.Observe({kStages[i]}, values[i]);
    } else {
      family.Observe({*relay, kStages[i]}, values[i]);
    }
  }
}

void MailLogCounters::Unsupported(std::string_view service, std::string_view level) {
  ++unsupported_;
  unsupported_entries_.Inc({service, level});
}

void MailLogCounters::AddTo(MetricSet& set, const Labels& labels) const {
  auto counter = [&](std::string_view name, std::string_view help, double value) {
    set.Counter(name, help, labels, value);
  };
  auto counters = [&](std::string_view name, std::string_view help, const Counters& family) {
    for (const auto& [key, value] : family.series) {
      set.Counter(name, help, SeriesLabels(labels, family.label_names, key), value);
    }
  };
  auto histograms = [&](std::string_view name, std::string_view help, const Histograms& family) {
    for (const auto& [key, histogram] : family.series) {
      set.Histogram(name, help, SeriesLabels(labels, family.label_names, key),
                    histogram.ToMetric());
    }
  };
  // postfix_exporter's names and help texts (kumina 0.3.0 and the maintained fork).
  counter("postfix_cleanup_messages_processed_total",
          "Total number of messages processed by cleanup.", cleanup_processed_);
  counter("postfix_cleanup_messages_rejected_total",
          "Total number of messages rejected by cleanup.", cleanup_rejected_);
  counter("postfix_cleanup_messages_not_accepted_total",
          "Total number of messages not accepted by cleanup.", cleanup_not_accepted_);
  histograms("postfix_lmtp_delivery_delay_seconds", "LMTP message processing time in seconds.",
             lmtp_delays_);
  histograms("postfix_pipe_delivery_delay_seconds", "Pipe message processing time in seconds.",
             pipe_delays_);
  set.Histogram("postfix_qmgr_messages_inserted_receipients",
                "Legacy metric, please switch to postfix_qmgr_messages_inserted_recipients.",
                labels, qmgr_recipients_.ToMetric());
  set.Histogram("postfix_qmgr_messages_inserted_recipients",
                "Number of recipients per message inserted into the mail queues.", labels,
                qmgr_recipients_.ToMetric());
  set.Histogram("postfix_qmgr_messages_inserted_size_bytes",
                "Size of messages inserted into the mail queues in bytes.", labels,
                qmgr_size_.ToMetric());
  counter("postfix_qmgr_messages_removed_total",
          "Total number of messages removed from mail queues.", qmgr_removed_);
  counter("postfix_qmgr_messages_expired_total",
          "Total number of messages expired from mail queues.", qmgr_expired_);
  histograms("postfix_smtp_delivery_delay_seconds", "SMTP message processing time in seconds.",
             smtp_delays_);
  counters("postfix_smtp_tls_connections_total", "Total number of outgoing TLS connections.",
           smtp_tls_);
  counter("postfix_smtp_deferred_messages_total",
          "Total number of messages that have been deferred on SMTP.", smtp_deferred_);
  counters("postfix_smtp_messages_processed_total",
           "Total number of messages that have been processed by the smtp process.",
           smtp_processed_);
  counters("postfix_smtp_deferred_messages_by_dsn_total",
           "Total number of messages that have been deferred on SMTP by DSN.", smtp_deferred_dsn_);
  counters("postfix_smtp_bounced_messages_by_dsn_total",
           "Total number of messages that have been bounced on SMTP by DSN.", smtp_bounced_dsn_);
  counter("postfix_smtp_connection_timed_out_total",
          "Total number of messages that have been deferred on SMTP.", smtp_connection_timed_out_);
  counter("postfix_smtp_status_deferred", "Total number of messages deferred.",
          smtp_status_deferred_);
  counter("postfix_smtpd_connects_total", "Total number of incoming connections.", smtpd_connects_);
  counter("postfix_smtpd_disconnects_total", "Total number of incoming disconnections.",
          smtpd_disconnects_);
  counter("postfix_smtpd_forward_confirmed_reverse_dns_errors_total",
          "Total number of connections for which forward-confirmed DNS cannot be resolved.",
          smtpd_fcrdns_errors_);
  counters("postfix_smtpd_connections_lost_total", "Total number of connections lost.",
           smtpd_lost_);
  counters("postfix_smtpd_messages_processed_total", "Total number of messages processed.",
           smtpd_processed_);
  counters("postfix_smtpd_messages_rejected_total", "Total number of NOQUEUE rejects.",
           smtpd_rejected_);
  counter("postfix_smtpd_sasl_authentication_failures_total",
          "Total number of SASL authentication failures.", smtpd_sasl_failures_);
  counters("postfix_smtpd_tls_connections_total", "Total number of incoming TLS connections.",
           smtpd_tls_);
  counters("postfix_unsupported_log_entries_total", "Log entries that could not be processed.",
           unsupported_entries_);
  counters("opendkim_signatures_added_total", "Total number of messages signed.", opendkim_signed_);
  counter("postfix_bounce_non_delivery_notification_total",
          "Total number of non delivery notification sent by bounce.", bounce_non_delivery_);
  counter("postfix_virtual_delivered_total", "Total number of mail delivered to a virtual mailbox.",
          virtual_delivered_);
}

}  // namespace sre::exporters::postfix
