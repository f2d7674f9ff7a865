#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "agent/base/status.h"

namespace sre::config {

/// Looks an environment variable up; std::nullopt when unset. Tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

/// The process environment.
EnvLookup ProcessEnv();

/// A parsed YAML document and the name of the file it came from. Immutable once loaded.
class Document {
 public:
  /// Reads and parses `path`. Errors read `path:line:col: message`.
  static Result<Document> Load(const std::string& path);
  /// Parses `text`, naming it `name` in errors.
  static Result<Document> FromString(const std::string& text, const std::string& name);

  const YAML::Node& root() const { return root_; }
  const std::string& file() const { return file_; }

 private:
  Document(YAML::Node root, std::string file) : root_(std::move(root)), file_(std::move(file)) {}
  YAML::Node root_;
  std::string file_;
};

/// What a schema needs while parsing: the file name for errors, the environment for `${VAR}`
/// expansion, and the directory that relative `*_file` paths are read from. Thread-compatible.
class ParseContext {
 public:
  ParseContext(std::string file, EnvLookup env = ProcessEnv(), std::string base_dir = "");

  const std::string& file() const { return file_; }
  const std::string& base_dir() const { return base_dir_; }

  /// `file:line:col: message`, pointing at `node` (1-based line and column).
  Status ErrorAt(const YAML::Node& node, std::string_view message) const;
  /// An error at byte `offset` of a scalar's value (an expression's bad token): the column is
  /// exact for a scalar on one line, plain or quoted without escapes; for others (block,
  /// folded, escaped) it points at the scalar and names the offset.
  Status ErrorInScalar(const YAML::Node& node, size_t offset, std::string_view message) const;
  /// The scalar's text with `${VAR}` and `${VAR:-default}` expanded; an error names the node.
  Result<std::string> ExpandedScalar(const YAML::Node& node) const;
  /// Reads a secret file (relative paths against base_dir), trailing newlines removed.
  Result<std::string> ReadSecretFile(const YAML::Node& path_node) const;
  /// `path` as it is when absolute, else under base_dir: files named in a config are found next
  /// to it, wherever the agent was started from.
  std::string ResolvePath(const std::string& path) const;

 private:
  std::string file_;
  EnvLookup env_;
  std::string base_dir_;
};

/// `message` without the `file:line:col: ` or `file: ` a ParseContext named `file` puts first: for
/// errors about a node built in code, whose position means nothing to the reader.
std::string WithoutPosition(const std::string& message, const std::string& file);

/// `text` with every `$` doubled, so that ExpandEnv gives it back unchanged: for values that come
/// from outside the operator's config (a /probe target, a pod's annotation) and are put in a
/// node a ParseContext will read.
std::string Literal(std::string_view text);

/// Expands `${VAR}` and `${VAR:-default}` in `text`; `$$` is a literal `$`. An unset variable
/// without a default is an error naming it.
Result<std::string> ExpandEnv(std::string_view text, const EnvLookup& env);

/// A canonical, env-expanded rendering of `node` (keys sorted): equal texts mean equal configs.
/// The runtime uses it to keep unchanged checks running across a reload.
std::string CanonicalText(const YAML::Node& node, const ParseContext& ctx);

}  // namespace sre::config
