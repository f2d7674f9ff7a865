#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "agent/base/status.h"
#include "agent/config/source.h"

namespace sre::config {

/// How one C++ type is read from a YAML node, named in docs and rendered as a default.
/// Specialised below for the types schemas use; add a specialisation for a new type.
template <typename M>
struct ValueCodec;

template <>
struct ValueCodec<std::string> {
  static std::string TypeName() { return "string"; }
  static std::string Format(const std::string& v) { return v.empty() ? "" : "\"" + v + "\""; }
  static Status Parse(const YAML::Node& node, const ParseContext& ctx, std::string& out);
};

template <>
struct ValueCodec<bool> {
  static std::string TypeName() { return "bool"; }
  static std::string Format(bool v) { return v ? "true" : "false"; }
  static Status Parse(const YAML::Node& node, const ParseContext& ctx, bool& out);
};

template <>
struct ValueCodec<int64_t> {
  static std::string TypeName() { return "integer"; }
  static std::string Format(int64_t v) { return std::to_string(v); }
  static Status Parse(const YAML::Node& node, const ParseContext& ctx, int64_t& out);
};

template <>
struct ValueCodec<double> {
  static std::string TypeName() { return "number"; }
  static std::string Format(double v);
  static Status Parse(const YAML::Node& node, const ParseContext& ctx, double& out);
};

template <>
struct ValueCodec<Duration> {
  static std::string TypeName() { return "duration"; }
  static std::string Format(Duration v);
  static Status Parse(const YAML::Node& node, const ParseContext& ctx, Duration& out);
};

template <>
struct ValueCodec<std::vector<std::string>> {
  static std::string TypeName() { return "list of string"; }
  static std::string Format(const std::vector<std::string>& v);
  static Status Parse(const YAML::Node& node, const ParseContext& ctx,
                      std::vector<std::string>& out);
};

template <>
struct ValueCodec<std::vector<int64_t>> {
  static std::string TypeName() { return "list of integer"; }
  static std::string Format(const std::vector<int64_t>& v);
  static Status Parse(const YAML::Node& node, const ParseContext& ctx, std::vector<int64_t>& out);
};

/// A file the agent reads (a CA bundle, a key): relative paths are resolved against the config
/// file's directory, and the file must be readable when the config is parsed.
struct FilePath {
  std::string path;  ///< resolved; empty when not set
  bool operator==(const FilePath&) const = default;
};

template <>
struct ValueCodec<FilePath> {
  static std::string TypeName() { return "file path (relative to the config file)"; }
  static std::string Format(const FilePath& v) { return v.path; }
  static Status Parse(const YAML::Node& node, const ParseContext& ctx, FilePath& out);
};

template <>
struct ValueCodec<std::map<std::string, std::string>> {
  static std::string TypeName() { return "map of string to string"; }
  static std::string Format(const std::map<std::string, std::string>& v);
  static Status Parse(const YAML::Node& node, const ParseContext& ctx,
                      std::map<std::string, std::string>& out);
};

}  // namespace sre::config
