#include "exporters/fluentd/plugins.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "exporters/fluentd/ruby_time.h"

namespace sre::exporters::fluentd {
namespace {

using json = nlohmann::json;

// What the next value in the document is, from the key before it or the array around it.
enum class Slot : uint8_t {
  kDocument,
  kPluginList,  // "plugins"
  kPlugin,      // an element of "plugins"
  kPluginId,
  kCategory,
  kType,
  kField,  // one of kFieldKeys; field_ says which
  kRetry,
  kTimekeys,
  kTimekey,  // an element of "buffer_timekeys"
  kRetryStart,
  kRetrySteps,
  kRetryNextTime,
  kIgnored,  // a key we do not read, and everything inside it
};

// The longest plugin_id, plugin_category, type or retry time accepted.
constexpr size_t kMaxStringBytes = 256;

// The containers open around the parser.
enum class Frame : uint8_t { kRoot, kPluginList, kPlugin, kRetry, kTimekeys, kIgnored };

/// The SAX handler: turns parser events into PluginStatus records without building a tree.
/// The first error stops the parse (every callback returns false from then on).
class PluginsReader {
 public:
  explicit PluginsReader(const PluginsLimits& limits) : limits_(limits) {}

  // nlohmann::json SAX interface.
  bool null() { return Scalar("null"); }
  bool boolean(bool) { return Scalar("boolean"); }
  bool number_integer(json::number_integer_t value) {
    return Number(static_cast<double>(value), true);
  }
  bool number_unsigned(json::number_unsigned_t value) {
    return Number(static_cast<double>(value), true);
  }
  bool number_float(json::number_float_t value, const json::string_t&) {
    return Number(value, false);
  }
  bool string(json::string_t& value);
  bool binary(json::binary_t&) { return Scalar("binary"); }
  bool start_object(std::size_t);
  bool key(json::string_t& key);
  bool end_object();
  bool start_array(std::size_t);
  bool end_array() { return Pop(); }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& error) {
    if (error_.empty()) {
      // The parser's own message quotes the last token, which may be megabytes: the position
      // is enough.
      const std::string_view what = error.what();
      const bool trailing = what.find("; expected end of input") != std::string_view::npos;
      const bool truncated =
          !trailing && (what.find("unexpected end of input") != std::string_view::npos ||
                        position >= input_size_);
      error_ = truncated ? "not JSON: it ends early (truncated?)"
                         : fmt::format("not JSON: a syntax error at byte {}", position);
    }
    return false;
  }

  Result<std::vector<PluginStatus>> Finish(bool parsed) {
    if (!error_.empty()) return Status::Error(error_);
    if (!parsed) return Status::Error("not JSON");
    if (!saw_plugins_) return Status::Error("\"plugins\" is missing");
    return std::move(plugins_);
  }
  void set_input_size(size_t size) { input_size_ = size; }

 private:
  Slot NextSlot() {
    if (frames_.empty()) return Slot::kDocument;
    switch (frames_.back()) {
      case Frame::kPluginList:
        return Slot::kPlugin;
      case Frame::kTimekeys:
        return Slot::kTimekey;
      case Frame::kIgnored:
        return Slot::kIgnored;
      default: {
        // In an object: what key() said the value is.
        const Slot slot = slot_;
        slot_ = Slot::kIgnored;
        return slot;
      }
    }
  }

  bool Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  // "plugins[3] (out_es)", or "plugins[3]" before its id is known.
  std::string Where() const {
    const size_t index = plugins_.empty() ? 0 : plugins_.size() - 1;
    if (plugins_.empty() || plugins_.back().plugin_id.empty())
      return fmt::format("plugins[{}]", index);
    return fmt::format("plugins[{}] ({})", index, plugins_.back().plugin_id);
  }

  bool WrongType(std::string_view got) {
    std::string_view expected = "a number or null";
    switch (slot_for_error_) {
      case Slot::kDocument:
        return Fail("not a JSON object");
      case Slot::kPluginList:
        return Fail(fmt::format("\"plugins\" should be an array, got {}", got));
      case Slot::kPlugin:
        return Fail(fmt::format("plugins[{}] should be an object, got {}", plugins_.size(), got));
      case Slot::kPluginId:
      case Slot::kCategory:
        expected = "a string";
        break;
      case Slot::kType:
      case Slot::kRetryStart:
      case Slot::kRetryNextTime:
        expected = "a string or null";
        break;
      case Slot::kRetry:
        expected = "an object or null";
        break;
      case Slot::kTimekeys:
        expected = "an array or null";
        break;
      case Slot::kTimekey:
        return Fail(
            fmt::format("{}: \"buffer_timekeys\" should hold numbers, got {}", Where(), got));
      case Slot::kRetrySteps:
        expected = "an integer or null";
        break;
      default:
        break;
    }
    return Fail(fmt::format("{}: \"{}\" should be {}, got {}", Where(), key_name_, expected, got));
  }

  // Every scalar that is not a number or a string.
  bool Scalar(std::string_view kind) {
    const Slot slot = NextSlot();
    slot_for_error_ = slot;
    const bool is_null = kind == "null";
    switch (slot) {
      case Slot::kIgnored:
        return true;
      case Slot::kType:
        if (is_null) return true;  // type stays ""
        break;
      case Slot::kField:
        if (is_null) {
          Plugin().fields[field_].reset();
          return true;
        }
        break;
      case Slot::kRetry:
        if (is_null) {
          Plugin().retry.reset();
          return true;
        }
        break;
      case Slot::kTimekeys:
      case Slot::kRetryStart:
      case Slot::kRetryNextTime:
      case Slot::kRetrySteps:
        if (is_null) return true;
        break;
      default:
        break;
    }
    return WrongType(kind);
  }

  bool Number(double value, bool integer) {
    const Slot slot = NextSlot();
    slot_for_error_ = slot;
    switch (slot) {
      case Slot::kIgnored:
        return true;
      case Slot::kField:
        Plugin().fields[field_] = value;
        return true;
      case Slot::kTimekey:
        newest_timekey_ = std::max(newest_timekey_.value_or(value), value);
        oldest_timekey_ = std::min(oldest_timekey_.value_or(value), value);
        return true;
      case Slot::kRetrySteps:
        if (!integer) break;
        if (value < 0 || value > 1e15) {
          return Fail(fmt::format("{}: retry.steps {} is out of range", Where(), value));
        }
        Plugin().retry->steps = static_cast<int64_t>(value);
        return true;
      default:
        break;
    }
    return WrongType(integer ? "an integer" : "a number");
  }

  PluginStatus& Plugin() { return plugins_.back(); }

  bool Push(Frame frame) {
    if (static_cast<int>(frames_.size()) >= limits_.max_depth) {
      return Fail(fmt::format("nested deeper than {} levels", limits_.max_depth));
    }
    frames_.push_back(frame);
    return true;
  }

  bool Pop();

  const PluginsLimits& limits_;
  size_t input_size_ = 0;
  std::vector<Frame> frames_;
  Slot slot_ = Slot::kIgnored;  // set by key()
  Slot slot_for_error_ = Slot::kIgnored;
  size_t field_ = 0;                                       // for Slot::kField
  std::string_view key_name_;                              // the key being read, for errors
  std::optional<double> newest_timekey_, oldest_timekey_;  // from buffer_timekeys
  bool saw_id_ = false, saw_category_ = false;
  bool saw_plugins_ = false;
  std::vector<PluginStatus> plugins_;
  std::string error_;
};

bool PluginsReader::string(json::string_t& value) {
  const Slot slot = NextSlot();
  slot_for_error_ = slot;
  if (slot == Slot::kIgnored) return true;
  // These become label values: an @id or @type is a few dozen bytes, not a megabyte.
  if (value.size() > kMaxStringBytes) {
    return Fail(
        fmt::format("{}: \"{}\" is longer than {} bytes", Where(), key_name_, kMaxStringBytes));
  }
  switch (slot) {
    case Slot::kPluginId:
      Plugin().plugin_id = value;
      saw_id_ = true;
      return true;
    case Slot::kCategory:
      Plugin().category = value;
      saw_category_ = true;
      return true;
    case Slot::kType:
      Plugin().type = value;
      return true;
    case Slot::kRetryStart:
    case Slot::kRetryNextTime: {
      const auto time = ParseRubyTime(value);
      if (!time) {
        return Fail(fmt::format("{}: retry.{} \"{}\" is not a time like 2025-05-29 16:05:52 +0900",
                                Where(), key_name_, value));
      }
      RetryState& retry = *Plugin().retry;
      (slot == Slot::kRetryStart ? retry.start : retry.next_time) = *time;
      (slot == Slot::kRetryStart ? retry.start_text : retry.next_time_text) = value;
      return true;
    }
    default:
      return WrongType("a string");
  }
}

bool PluginsReader::start_object(std::size_t) {
  const Slot slot = NextSlot();
  slot_for_error_ = slot;
  switch (slot) {
    case Slot::kDocument:
      return Push(Frame::kRoot);
    case Slot::kPlugin:
      if (plugins_.size() >= limits_.max_plugins) {
        return Fail(fmt::format("more than {} plugins", limits_.max_plugins));
      }
      plugins_.emplace_back();
      saw_id_ = saw_category_ = false;
      newest_timekey_.reset();
      oldest_timekey_.reset();
      return Push(Frame::kPlugin);
    case Slot::kRetry:
      Plugin().retry.emplace();
      return Push(Frame::kRetry);
    case Slot::kIgnored:
      return Push(Frame::kIgnored);
    default:
      return WrongType("an object");
  }
}

bool PluginsReader::start_array(std::size_t) {
  const Slot slot = NextSlot();
  slot_for_error_ = slot;
  switch (slot) {
    case Slot::kPluginList:
      saw_plugins_ = true;
      return Push(Frame::kPluginList);
    case Slot::kTimekeys:
      return Push(Frame::kTimekeys);
    case Slot::kIgnored:
      return Push(Frame::kIgnored);
    default:
      return WrongType("an array");
  }
}

bool PluginsReader::key(json::string_t& key) {
  key_name_ = {};
  slot_ = Slot::kIgnored;
  switch (frames_.back()) {
    case Frame::kRoot:
      if (key == "plugins") slot_ = Slot::kPluginList;
      key_name_ = "plugins";
      return true;
    case Frame::kPlugin: {
      if (key == "plugin_id") {
        slot_ = Slot::kPluginId;
        key_name_ = "plugin_id";
      } else if (key == "plugin_category") {
        slot_ = Slot::kCategory;
        key_name_ = "plugin_category";
      } else if (key == "type") {
        slot_ = Slot::kType;
        key_name_ = "type";
      } else if (key == "retry") {
        slot_ = Slot::kRetry;
        key_name_ = "retry";
      } else if (key == "buffer_timekeys") {
        slot_ = Slot::kTimekeys;
        key_name_ = "buffer_timekeys";
      } else if (key.starts_with("buffer_") || key.ends_with("_count") ||
                 key.starts_with("emit_")) {
        const auto it = std::find(kFieldKeys.begin(), kFieldKeys.end(), key);
        if (it != kFieldKeys.end()) {
          slot_ = Slot::kField;
          field_ = static_cast<size_t>(it - kFieldKeys.begin());
          key_name_ = *it;
        }
      }
      return true;
    }
    case Frame::kRetry:
      if (key == "start") {
        slot_ = Slot::kRetryStart;
        key_name_ = "start";
      } else if (key == "steps") {
        slot_ = Slot::kRetrySteps;
        key_name_ = "steps";
      } else if (key == "next_time") {
        slot_ = Slot::kRetryNextTime;
        key_name_ = "next_time";
      }
      return true;
    default:
      return true;
  }
}

bool PluginsReader::end_object() {
  if (!frames_.empty() && frames_.back() == Frame::kPlugin) {
    if (!saw_id_) return Fail(Where() + ": \"plugin_id\" is missing");
    if (!saw_category_) return Fail(Where() + ": \"plugin_category\" is missing");
    // Fluentd 1.x reports the newest and oldest timekey itself; older versions only the list.
    auto& fields = Plugin().fields;
    auto& newest = fields[static_cast<size_t>(Field::kBufferNewestTimekey)];
    auto& oldest = fields[static_cast<size_t>(Field::kBufferOldestTimekey)];
    if (!newest) newest = newest_timekey_;
    if (!oldest) oldest = oldest_timekey_;
  }
  return Pop();
}

bool PluginsReader::Pop() {
  if (!frames_.empty()) frames_.pop_back();
  return true;
}

// The start of a body that is not JSON at all (an HTML error page), printable, for the message.
std::string Snippet(std::string_view text) {
  constexpr size_t kMax = 40;
  std::string out;
  for (const char c : text.substr(0, kMax)) out += c >= 0x20 && c < 0x7f ? c : '.';
  if (text.size() > kMax) out += "...";
  return out;
}

}  // namespace

Result<std::vector<PluginStatus>> ParsePlugins(std::string_view text, const PluginsLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return Status::Error(
        fmt::format("the response is {} bytes, more than {}", text.size(), limits.max_bytes));
  }
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Status::Error("the response is empty");
  }
  PluginsReader reader(limits);
  reader.set_input_size(text.size());
  const bool parsed = json::sax_parse(text.begin(), text.end(), &reader, json::input_format_t::json,
                                      /*strict=*/true);
  auto plugins = reader.Finish(parsed);
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (!plugins.ok() && first != std::string_view::npos && text[first] != '{' &&
      plugins.status().message().starts_with("not JSON")) {
    return Status::Error(
        fmt::format("{} (it starts with \"{}\")", plugins.status().message(), Snippet(text)));
  }
  return plugins;
}

}  // namespace sre::exporters::fluentd
