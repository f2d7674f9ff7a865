#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>

namespace sre::config {

/// `"text"` for error messages: escaped, and cut after 64 characters.
std::string Quote(std::string_view text);

/// What was found instead of the expected node: "a list", "a map", "null" or the quoted scalar.
std::string Found(const YAML::Node& node);

}  // namespace sre::config
