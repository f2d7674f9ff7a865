#include "exporters/postfix/mail_log.h"

#include <gtest/gtest.h>

#include <sstream>

#include "agent/runtime/snapshot_store.h"
#include "tests/support/source_files.h"

namespace sre::exporters::postfix {
namespace {

using namespace std::string_literals;

// The exposition of `counters` as the agent serves it, labelled check="mail".
std::string Exposition(const MailLogCounters& counters) {
  MetricSet set;
  counters.AddTo(set, {{"check", "mail"}});
  return MergeExposition({MakeSnapshot({}, set.Take())}, ExpositionFormat::kText004);
}

// The value of the series `name{check="mail"<labels>}`; -1 when it is absent.
double Value(const std::string& text, const std::string& name, const std::string& labels = "") {
  const std::string series = name + "{check=\"mail\"" + labels + "} ";
  const size_t at = text.find("\n" + series);
  return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size() + 1));
}

TEST(SplitLogLineTest, FindsTheTagWhateverComesBefore) {
  for (const char* text :
       {"Nov 27 21:36:41 bench postfix/smtpd[29848]: connect from unknown[127.0.0.1]",
        "2026-11-27T21:36:41.123456+00:00 bench postfix/smtpd[29848]: connect from x",
        "2026-11-27T21:36:41.123456789Z stdout F Nov 27 21:36:41 mail postfix/smtpd[1]: connect "
        "from x",
        "postfix/smtpd[29848]: connect from x",
        "Nov 27 21:36:41 bench postfix/submission/smtpd[7]: connect from x",
        "Nov 27 21:36:41 bench postfix-out/smtpd[7]: connect from x"}) {
    const auto line = SplitLogLine(text);
    ASSERT_TRUE(line) << text;
    EXPECT_EQ(line->service, "smtpd") << text;
    EXPECT_TRUE(line->message.starts_with("connect from ")) << text;
  }
  const auto warning = SplitLogLine("Nov 27 host postfix/smtpd[1]: warning: TLS library problem");
  ASSERT_TRUE(warning);
  EXPECT_EQ(warning->level, "warning");
  for (const char* text :
       {"", "Nov 27 21:36:41 bench sshd[1]: Accepted publickey", "apostfix/smtpd[1]: connect",
        "postfix/smtpd[]: x", "postfix/smtpd[1]"}) {
    EXPECT_FALSE(SplitLogLine(text)) << text;
  }
}

TEST(MailLogTest, TheCapturedLog) {
  std::istringstream file(testing::ReadSourceFile("exporters/postfix/testdata/maillog_sample.log"));
  MailLogCounters counters;
  for (std::string line; std::getline(file, line);) counters.Consume(line);
  const std::string text = Exposition(counters);
  EXPECT_EQ(counters.lines(), 300u);
  EXPECT_EQ(Value(text, "postfix_smtpd_connects_total"), 1) << text;
  EXPECT_EQ(Value(text, "postfix_smtpd_messages_processed_total", ",sasl_method=\"\""), 74);
  EXPECT_EQ(Value(text, "postfix_cleanup_messages_processed_total"), 74);
  EXPECT_EQ(Value(text, "postfix_qmgr_messages_inserted_recipients_count"), 73);
  EXPECT_EQ(Value(text, "postfix_qmgr_messages_inserted_receipients_count"), 73);
  EXPECT_EQ(Value(text, "postfix_smtp_messages_processed_total", ",status=\"deferred\""), 4);
  EXPECT_EQ(Value(text, "postfix_smtp_deferred_messages_by_dsn_total", ",dsn=\"4.4.1\""), 4);
  // kumina puts every smtp delay in stage="": here each stage has its own series.
  EXPECT_EQ(
      Value(text, "postfix_smtp_delivery_delay_seconds_count", ",stage=\"before_queue_manager\""),
      4);
  EXPECT_EQ(Value(text, "postfix_unsupported_log_entries_total", ",service=\"error\",level=\"\""),
            69);
  EXPECT_EQ(Value(text, "postfix_unsupported_log_entries_total", ",service=\"smtp\",level=\"\""),
            4);
}

TEST(MailLogTest, EveryKindOfLine) {
  struct Case {
    std::string line;
    std::string series;  // name and labels after check
    double value;
  };
  const std::string p = "Nov 27 21:36:41 mx ";
  const std::vector<Case> cases = {
      {p + "postfix/smtpd[1]: disconnect from x[1.2.3.4] ehlo=1 quit=1 commands=2",
       "postfix_smtpd_disconnects_total", 1},
      {p + "postfix/smtpd[1]: warning: hostname a.example does not resolve to address 1.2.3.4",
       "postfix_smtpd_forward_confirmed_reverse_dns_errors_total", 1},
      {p + "postfix/smtpd[1]: lost connection after AUTH from x[1.2.3.4]",
       "postfix_smtpd_connections_lost_total,after_stage=\"AUTH\"", 1},
      {p + "postfix/smtpd[1]: NOQUEUE: lost connection after RCPT from x[1.2.3.4]",
       "postfix_smtpd_connections_lost_total,after_stage=\"RCPT\"", 1},
      {p + "postfix/smtpd[1]: 4B1C: client=x[1.2.3.4], sasl_method=PLAIN, sasl_username=u",
       "postfix_smtpd_messages_processed_total,sasl_method=\"PLAIN\"", 1},
      {p + "postfix/submission/smtpd[1]: 4B1D: client=x[1.2.3.4], sasl_method=LOGIN, "
           "sasl_username=u",
       "postfix_smtpd_messages_processed_total,sasl_method=\"LOGIN\"", 1},
      {p + "postfix/smtpd[1]: NOQUEUE: reject: RCPT from x[1.2.3.4]: 554 5.7.1 <a@b>: Relay "
           "access denied; from=<c@d> to=<a@b> proto=ESMTP helo=<x>",
       "postfix_smtpd_messages_rejected_total,code=\"554\"", 1},
      {p + "postfix/smtpd[1]: warning: x[1.2.3.4]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
       "postfix_smtpd_sasl_authentication_failures_total", 1},
      {p + "postfix/smtpd[1]: Anonymous TLS connection established from x[1.2.3.4]: TLSv1.3 with "
           "cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature "
           "RSA-PSS (2048 bits)",
       "postfix_smtpd_tls_connections_total,trust=\"Anonymous\",protocol=\"TLSv1.3\",cipher=\"TLS_"
       "AES_256_GCM_SHA384\",secret_bits=\"256\",algorithm_bits=\"256\"",
       1},
      {p + "postfix/smtp[2]: Trusted TLS connection established to mx.example[5.6.7.8]:25: "
           "TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)",
       "postfix_smtp_tls_connections_total,trust=\"Trusted\",protocol=\"TLSv1.2\",cipher=\"ECDHE-"
       "RSA-AES256-GCM-SHA384\",secret_bits=\"256\",algorithm_bits=\"256\"",
       1},
      {p + "postfix/smtp[2]: 4B1E: to=<a@b>, relay=mx.example[5.6.7.8]:25, delay=1.2, "
           "delays=0.1/0.2/0.3/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
       "postfix_smtp_messages_processed_total,status=\"sent\"", 1},
      {p + "postfix/smtp[2]: 4B1F: to=<a@b>, relay=mx.example[5.6.7.8]:25, delay=1, "
           "delays=0/0/0.5/0.5, dsn=5.1.1, status=bounced (host said: 550 5.1.1 no such user)",
       "postfix_smtp_bounced_messages_by_dsn_total,dsn=\"5.1.1\"", 1},
      {p + "postfix/smtp[2]: connect to mx.example[5.6.7.8]:25: Connection timed out",
       "postfix_smtp_connection_timed_out_total", 1},
      {p + "postfix/qmgr[3]: 4B20: removed", "postfix_qmgr_messages_removed_total", 1},
      {p + "postfix/qmgr[3]: 4B21: from=<a@b>, status=expired, returned to sender",
       "postfix_qmgr_messages_expired_total", 1},
      {p + "postfix/cleanup[4]: 4B22: reject: header Subject: spam from x; from=<a@b>: 5.7.1 no",
       "postfix_cleanup_messages_rejected_total", 1},
      {p + "postfix/cleanup[4]: 4B23: milter-reject: END-OF-MESSAGE from x[1.2.3.4]: 5.7.1 no",
       "postfix_cleanup_messages_not_accepted_total", 1},
      {p + "postfix/lmtp[5]: 4B24: to=<a@b>, relay=dovecot[private/dovecot-lmtp], delay=0.1, "
           "delays=0.01/0.02/0.03/0.04, dsn=2.0.0, status=sent (250 2.0.0 Saved)",
       "postfix_lmtp_delivery_delay_seconds_count,stage=\"transmission\"", 1},
      {p + "postfix/pipe[6]: 4B25: to=<a@b>, relay=spamassassin, delay=0.5, "
           "delays=0.1/0/0/0.4, dsn=2.0.0, status=sent (delivered via spamassassin service)",
       "postfix_pipe_delivery_delay_seconds_count,relay=\"spamassassin\",stage=\"queue_manager\"",
       1},
      {p + "postfix/bounce[7]: 4B26: sender non-delivery notification: 4B27",
       "postfix_bounce_non_delivery_notification_total", 1},
      {p + "postfix/virtual[8]: 4B28: to=<a@b>, relay=virtual, delay=0.1, delays=0/0/0/0.1, "
           "dsn=2.0.0, status=sent (delivered to maildir)",
       "postfix_virtual_delivered_total", 1},
      {p + "opendkim[9]: 4B29: DKIM-Signature field added (s=mail, d=example.com)",
       "opendkim_signatures_added_total,subject=\"mail\",domain=\"example.com\"", 1},
      {p + "postfix/smtpd[1]: warning: TLS library problem: bad record",
       "postfix_unsupported_log_entries_total,service=\"smtpd\",level=\"warning\"", 1},
      {"\x01\x02\xff binary \0 line"s,
       "postfix_unsupported_log_entries_total,service=\"\",level=\"\"", 1},
      {p + "postfix/smtpd[1]: " + std::string(100000, 'x'),
       "postfix_unsupported_log_entries_total,service=\"smtpd\",level=\"\"", 1},
  };
  for (const Case& c : cases) {
    MailLogCounters counters;
    counters.Consume(c.line);
    const std::string text = Exposition(counters);
    const size_t comma = c.series.find(',');
    const std::string name = c.series.substr(0, comma);
    const std::string labels = comma == std::string::npos ? "" : c.series.substr(comma);
    EXPECT_EQ(Value(text, name, labels), c.value) << c.line.substr(0, 120) << "\n" << text;
    if (!name.starts_with("postfix_unsupported")) {
      EXPECT_EQ(counters.unsupported(), 0u) << c.line.substr(0, 120);
    }
  }
}

// postfix_exporter exports its unlabelled families from the start; so do we.
TEST(MailLogTest, UnlabelledFamiliesStartAtZero) {
  const std::string text = Exposition(MailLogCounters());
  EXPECT_EQ(Value(text, "postfix_smtpd_connects_total"), 0);
  EXPECT_EQ(Value(text, "postfix_qmgr_messages_inserted_size_bytes_count"), 0);
  EXPECT_EQ(text.find("postfix_smtpd_messages_rejected_total{"), std::string::npos);
}

}  // namespace
}  // namespace sre::exporters::postfix
