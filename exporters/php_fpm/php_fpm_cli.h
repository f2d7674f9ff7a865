#pragma once

#include "agent/main/probe_command.h"

namespace sre::exporters::php_fpm {

/// `sre-probe php-fpm URI...`: each pool's summary; `--processes` adds the process table.
cli::ProbeCommand PhpFpmProbeCommand();

}  // namespace sre::exporters::php_fpm
