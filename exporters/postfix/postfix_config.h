#pragma once

#include <string>

#include "agent/config/schema.h"
#include "agent/core/check_settings.h"

namespace sre::exporters::postfix {

/// One Postfix instance.
struct PostfixConfig {
  CheckSettings settings;
  /// The showq service's socket; reading it needs root or the postdrop group.
  std::string showq_path = "/var/spool/postfix/public/showq";
};

const config::Schema<PostfixConfig>& PostfixSchema();

}  // namespace sre::exporters::postfix
