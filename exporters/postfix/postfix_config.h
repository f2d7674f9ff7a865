#pragma once

#include <string>

#include "agent/config/schema.h"
#include "agent/core/check_settings.h"

namespace sre::exporters::postfix {

/// One Postfix instance: its queue and where its mail log is.
struct PostfixConfig {
  CheckSettings settings;
  /// The showq service's socket; reading it needs root or the postdrop group. Empty: no queue
  /// figures (a node that only sees the log).
  std::string showq_path = "/var/spool/postfix/public/showq";
  /// A plain mail log (rsyslog's /var/log/mail.log, or Postfix's own maillog_file).
  std::string log_file;
  /// Container logs in the CRI format, like /var/log/pods/mail_postfix-*/postfix/*.log.
  std::string log_pods;
  /// The systemd journal: "system" (this host's), a journal directory or a journal file.
  std::string log_journal;
  /// "end" (default): count only what is logged after the agent starts; "beginning": read the
  /// logs there already too.
  std::string log_start = "end";
};

const config::Schema<PostfixConfig>& PostfixSchema();

}  // namespace sre::exporters::postfix
