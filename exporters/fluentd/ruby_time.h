#pragma once

#include <optional>
#include <string_view>

namespace sre::exporters::fluentd {

/// Reads a time as Fluentd's JSON carries it: Ruby's Time#to_s ("2025-05-29 16:05:52 +0900",
/// "... UTC"), or ISO 8601 as ActiveSupport writes it ("2025-05-29T16:05:52.000+09:00", "Z").
/// The offset is applied, so the result is Unix seconds; nullopt when `text` is neither. Pure.
std::optional<double> ParseRubyTime(std::string_view text);

}  // namespace sre::exporters::fluentd
