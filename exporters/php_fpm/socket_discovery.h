#pragma once

#include <string>
#include <vector>

#include "agent/base/status.h"

namespace sre::exporters::php_fpm {

/// The unix sockets matching `pattern` (glob(3) syntax, like "/run/php/*.sock"), sorted; other
/// kinds of files are skipped. No match is an empty list, not an error: a node without PHP
/// simply has no pools. A directory that cannot be read is an error naming it.
Result<std::vector<std::string>> FindSockets(const std::string& pattern);

}  // namespace sre::exporters::php_fpm
