#include "agent/config/source.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <sstream>
#include <utility>
#include <vector>

namespace sre::config {
namespace {

/// Secrets are passwords and tokens; anything bigger is a wrong path (or /dev/zero).
constexpr size_t kMaxSecretBytes = 1 << 20;
/// CanonicalText stops descending here: aliases can make a node contain itself.
constexpr int kMaxCanonicalDepth = 64;
/// CanonicalText stops growing here: aliases can make a small file expand exponentially.
constexpr size_t kMaxCanonicalBytes = 1 << 20;

std::string ErrnoText(int error) { return std::strerror(error); }

/// Reads a whole file with POSIX calls, so that errors come with errno. `max_bytes` bounds the
/// size; `regular_only` refuses FIFOs and devices (opened non-blocking, so a FIFO cannot hang us).
Result<std::string> ReadFile(const std::string& path, size_t max_bytes, bool regular_only) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (regular_only ? O_NONBLOCK : 0));
  if (fd < 0) return Status::Error(ErrnoText(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int error = errno;
    ::close(fd);
    return Status::Error(ErrnoText(error));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Status::Error(ErrnoText(EISDIR));
  }
  if (regular_only && !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::Error("not a regular file");
  }
  std::string text;
  char buffer[8192];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      int error = errno;
      ::close(fd);
      return Status::Error(ErrnoText(error));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > max_bytes) {
      ::close(fd);
      return Status::Error(fmt::format("larger than {} bytes", max_bytes));
    }
  }
  ::close(fd);
  return text;
}

std::string FormatMark(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0 || mark.column < 0) return file;
  return fmt::format("{}:{}:{}", file, mark.line + 1, mark.column + 1);
}

/// "a list", "a map", "null": what a non-scalar node is, for "expected X, got Y" messages.
std::string KindOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Scalar:
      return "a string";
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

bool IsNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

void AppendQuoted(std::string_view text, std::string& out) {
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

/// Renders `node` into `out` as `~`, `"scalar"`, `[a,b]` or `{"k":v}` with sorted keys.
void AppendCanonical(const YAML::Node& node, const ParseContext& ctx, int depth, std::string& out) {
  if (out.size() > kMaxCanonicalBytes) return;
  if (depth > kMaxCanonicalDepth) {
    out += "!too-deep";
    return;
  }
  switch (node.Type()) {
    case YAML::NodeType::Scalar: {
      // An expansion error (already reported by the schema) keeps the raw text, marked so
      // that it cannot equal an expanded value.
      Result<std::string> value = ctx.ExpandedScalar(node);
      if (value.ok()) {
        AppendQuoted(*value, out);
      } else {
        out += "!raw";
        AppendQuoted(node.Scalar(), out);
      }
      return;
    }
    case YAML::NodeType::Sequence: {
      out += '[';
      bool first = true;
      for (const YAML::Node& item : node) {
        if (!first) out += ',';
        first = false;
        AppendCanonical(item, ctx, depth + 1, out);
        if (out.size() > kMaxCanonicalBytes) break;
      }
      out += ']';
      return;
    }
    case YAML::NodeType::Map: {
      std::vector<std::pair<std::string, std::string>> entries;
      size_t size = out.size();
      for (const auto& item : node) {
        std::string key;
        std::string value;
        if (item.first.IsScalar()) {
          AppendQuoted(item.first.Scalar(), key);  // keys are not env-expanded when parsed
        } else {
          AppendCanonical(item.first, ctx, depth + 1, key);
        }
        AppendCanonical(item.second, ctx, depth + 1, value);
        size += key.size() + value.size() + 2;
        entries.emplace_back(std::move(key), std::move(value));
        if (size > kMaxCanonicalBytes) break;
      }
      std::sort(entries.begin(), entries.end());
      out += '{';
      bool first = true;
      for (const auto& [key, value] : entries) {
        if (!first) out += ',';
        first = false;
        out += key;
        out += ':';
        out += value;
      }
      out += '}';
      return;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out += '~';
      return;
  }
}

/// Records the root of one document from parser events: whether it is null, and where it is.
class RootRecorder final : public YAML::EventHandler {
 public:
  bool seen() const { return seen_; }
  bool is_null() const { return is_null_; }
  const YAML::Mark& mark() const { return mark_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Root(mark, true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Root(mark, false); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Root(mark, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Root(mark, false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Root(mark, false);
  }
  void OnMapEnd() override {}

 private:
  void Root(const YAML::Mark& mark, bool is_null) {
    if (seen_) return;
    seen_ = true;
    is_null_ = is_null;
    mark_ = mark;
  }

  bool seen_ = false;
  bool is_null_ = false;
  YAML::Mark mark_ = YAML::Mark::null_mark();
};

}  // namespace

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    // getenv is safe to call concurrently; the agent never calls setenv after start-up.
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Result<Document> Document::Load(const std::string& path) {
  Result<std::string> text = ReadFile(path, SIZE_MAX, /*regular_only=*/false);
  if (!text.ok()) return Status::Error(path + ": cannot read: " + text.status().message());
  return FromString(*text, path);
}

Result<Document> Document::FromString(const std::string& text, const std::string& name) {
  try {
    YAML::Node root = YAML::Load(text);
    // A second document would be silently ignored: look for one with the event parser.
    // (Not YAML::LoadAll: yaml-cpp 0.7 loops forever, allocating, on inputs such as ",".)
    std::istringstream stream(text);
    YAML::Parser parser(stream);
    RootRecorder first;
    RootRecorder second;
    if (parser.HandleNextDocument(first) && parser.HandleNextDocument(second) && second.seen() &&
        !second.is_null()) {
      // A trailing "---" yields an empty document, which is harmless.
      return Status::Error(FormatMark(name, second.mark()) +
                           ": expected one YAML document, found another one here");
    }
    return Document(std::move(root), name);
  } catch (const YAML::Exception& e) {
    // ParserException and its subclasses (such as DeepRecursion) carry the position.
    return Status::Error(FormatMark(name, e.mark) + ": " + e.msg);
  } catch (const std::exception& e) {
    return Status::Error(name + ": " + e.what());
  }
}

ParseContext::ParseContext(std::string file, EnvLookup env, std::string base_dir)
    : file_(std::move(file)), env_(std::move(env)), base_dir_(std::move(base_dir)) {}

Status ParseContext::ErrorAt(const YAML::Node& node, std::string_view message) const {
  YAML::Mark mark = YAML::Mark::null_mark();
  // A missing or invalid node (a key looked up that is not there) has no position: name the file.
  try {
    if (node.IsDefined()) mark = node.Mark();
  } catch (const YAML::Exception&) {
  }
  return Status::Error(FormatMark(file_, mark) + ": " + std::string(message));
}

Status ParseContext::ErrorInScalar(const YAML::Node& node, size_t offset,
                                   std::string_view message) const {
  if (!node.IsDefined() || !node.IsScalar() || node.Mark().is_null()) {
    return ErrorAt(node, message);
  }
  YAML::Mark mark = node.Mark();
  const std::string& value = node.Scalar();
  // yaml-cpp tags a plain scalar "?" and a quoted or block one "!"; its mark is where the
  // scalar starts (the quote, for a quoted one).
  const bool one_line = value.find('\n') == std::string::npos;
  const bool plain = node.Tag() == "?";
  const bool unescaped = value.find_first_of("\\'\"") == std::string::npos;
  if (one_line && (plain || unescaped)) {
    mark.column += static_cast<int>(offset) + (plain ? 0 : 1);
    return Status::Error(FormatMark(file_, mark) + ": " + std::string(message));
  }
  return ErrorAt(node, fmt::format("at byte {} of the value: {}", offset, message));
}

Result<std::string> ParseContext::ExpandedScalar(const YAML::Node& node) const {
  if (!node.IsScalar()) return ErrorAt(node, "expected a string, got " + KindOf(node));
  Result<std::string> expanded = ExpandEnv(node.Scalar(), env_);
  if (!expanded.ok()) return ErrorAt(node, expanded.status().message());
  return expanded;
}

std::string ParseContext::ResolvePath(const std::string& path) const {
  if (path.empty() || path.front() == '/' || base_dir_.empty()) return path;
  return base_dir_ + (base_dir_.back() == '/' ? "" : "/") + path;
}

Result<std::string> ParseContext::ReadSecretFile(const YAML::Node& path_node) const {
  Result<std::string> path = ExpandedScalar(path_node);
  if (!path.ok()) return path;
  if (path->empty()) return ErrorAt(path_node, "expected the path of a secret file, got \"\"");
  const std::string full = ResolvePath(*path);
  Result<std::string> content = ReadFile(full, kMaxSecretBytes, /*regular_only=*/true);
  if (!content.ok()) {
    std::string quoted;
    AppendQuoted(full, quoted);
    return ErrorAt(path_node,
                   "cannot read secret file " + quoted + ": " + content.status().message());
  }
  std::string secret = std::move(content).value();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  return secret;
}

std::string WithoutPosition(const std::string& message, const std::string& file) {
  if (!message.starts_with(file)) return message;
  const size_t separator = message.find(": ", file.size());
  if (separator == std::string::npos) return message;
  const std::string_view position =
      std::string_view(message).substr(file.size(), separator - file.size());  // "" or ":line:col"
  if (!std::all_of(position.begin(), position.end(),
                   [](char c) { return c == ':' || (c >= '0' && c <= '9'); })) {
    return message;
  }
  return message.substr(separator + 2);
}

std::string Literal(std::string_view text) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '$') out += '$';
  }
  return out;
}

Result<std::string> ExpandEnv(std::string_view text, const EnvLookup& env) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '$' || i + 1 == text.size()) {
      out += c;
      ++i;
      continue;
    }
    char next = text[i + 1];
    if (next == '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next != '{') {
      out += '$';  // a lone '$', as in "cost: $5", is literal
      ++i;
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return Status::Error(
          fmt::format("unterminated \"${{\" in \"{}\": expected ${{NAME}} or "
                      "${{NAME:-default}}",
                      text.substr(i)));
    }
    std::string_view inner = text.substr(i + 2, close - i - 2);
    std::string_view name = inner;
    std::optional<std::string_view> fallback;
    if (size_t sep = inner.find(":-"); sep != std::string_view::npos) {
      name = inner.substr(0, sep);
      fallback = inner.substr(sep + 2);
    }
    bool valid_name = !name.empty() && IsNameStart(name.front()) &&
                      std::all_of(name.begin(), name.end(), IsNameChar);
    if (!valid_name) {
      return Status::Error(
          fmt::format("invalid reference \"{}\": expected ${{NAME}} or "
                      "${{NAME:-default}}, NAME made of letters, digits and _",
                      text.substr(i, close - i + 1)));
    }
    std::optional<std::string> value;
    if (env) value = env(std::string(name));
    if (fallback && (!value || value->empty())) {
      out += *fallback;  // shell semantics: ":-" also replaces an empty value
    } else if (value) {
      out += *value;
    } else {
      return Status::Error(fmt::format(
          "environment variable {0} is not set (use ${{{0}:-default}} for a default)", name));
    }
    i = close + 1;
  }
  return out;
}

// The text holds inline secrets (a changed password must restart its check), so it is a
// comparison key, never something to log. A `*_file` secret appears as its path only.
std::string CanonicalText(const YAML::Node& node, const ParseContext& ctx) {
  std::string out;
  try {
    AppendCanonical(node, ctx, 0, out);
  } catch (const std::exception&) {
    out += "!error";  // yaml-cpp does not throw on valid nodes; never let it escape anyway
  }
  if (out.size() > kMaxCanonicalBytes) out += "!truncated";
  return out;
}

}  // namespace sre::config
