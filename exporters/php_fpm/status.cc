#include "exporters/php_fpm/status.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace sre::exporters::php_fpm {
namespace {

using nlohmann::json;

// A status page nests three deep (pool, processes, process). nlohmann's parser recurses, so
// deeper input from a lying peer is refused before it can exhaust the stack.
constexpr int kMaxDepth = 8;

bool NestingWithin(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // skip the escaped character
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

/// Reads keys of one JSON object into typed fields; the first error names the key and what was
/// found, and later reads are skipped.
class Reader {
 public:
  /// `index`: the process's position, named in errors as "processes[index]"; none: the pool.
  Reader(const json& object, std::optional<size_t> index) : object_(object), index_(index) {}

  void Get(const char* key, int64_t& out) {
    Read(key, out, &json::is_number_integer, "an integer");
    // php bug #62382: "request duration" can come out as a wrapped-around unsigned value, which
    // reads as 0 (as hipages does) rather than as a negative number.
    const auto it = object_.find(key);
    if (status_.ok() && it->is_number_unsigned() &&
        it->template get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      out = 0;
    }
  }
  void Get(const char* key, double& out) { Read(key, out, &json::is_number, "a number"); }
  void Get(const char* key, std::string& out) { Read(key, out, &json::is_string, "a string"); }
  /// An optional key: absent leaves `out` empty.
  void Get(const char* key, std::optional<int64_t>& out) {
    if (status_.ok() && object_.contains(key)) Get(key, out.emplace());
  }
  const Status& status() const { return status_; }

 private:
  template <typename T>
  void Read(const char* key, T& out, bool (json::*is_type)() const noexcept, const char* expected) {
    if (!status_.ok()) return;
    const auto it = object_.find(key);
    if (it == object_.end()) {
      status_ = Status::Error(fmt::format("{}: \"{}\" is missing", Where(), key));
    } else if (!((*it).*is_type)()) {
      status_ = Status::Error(
          fmt::format("{}: \"{}\" should be {}, got {}", Where(), key, expected, it->type_name()));
    } else {
      out = it->template get<T>();
    }
  }

  // Formatted only for an error: a page of 50 processes parses without it.
  std::string Where() const { return index_ ? fmt::format("processes[{}]", *index_) : "status"; }

  const json& object_;
  std::optional<size_t> index_;
  Status status_ = Status::Ok();
};

Result<ProcessStatus> ParseProcess(const json& object, size_t index) {
  if (!object.is_object()) return Status::Error(fmt::format("processes[{}]: not an object", index));
  ProcessStatus p;
  Reader r(object, index);
  r.Get("pid", p.pid);
  r.Get("state", p.state);
  r.Get("start time", p.start_time);
  r.Get("start since", p.start_since);
  r.Get("requests", p.requests);
  r.Get("request duration", p.request_duration);
  r.Get("request method", p.request_method);
  r.Get("request uri", p.request_uri);
  r.Get("content length", p.content_length);
  r.Get("user", p.user);
  r.Get("script", p.script);
  r.Get("last request cpu", p.last_request_cpu);
  r.Get("last request memory", p.last_request_memory);
  if (!r.status().ok()) return r.status();
  return p;
}

}  // namespace

Result<PoolStatus> ParsePoolStatus(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) {
    return Status::Error(fmt::format("status is {} bytes, more than {}", text.size(), max_bytes));
  }
  if (!NestingWithin(text, kMaxDepth)) return Status::Error("status is nested too deeply");
  const json document = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return Status::Error("status is not JSON");
  if (!document.is_object()) return Status::Error("status is not a JSON object");
  PoolStatus s;
  Reader r(document, std::nullopt);
  r.Get("pool", s.pool);
  r.Get("process manager", s.process_manager);
  r.Get("start time", s.start_time);
  r.Get("start since", s.start_since);
  r.Get("accepted conn", s.accepted_conn);
  r.Get("listen queue", s.listen_queue);
  r.Get("max listen queue", s.max_listen_queue);
  r.Get("listen queue len", s.listen_queue_len);
  r.Get("idle processes", s.idle_processes);
  r.Get("active processes", s.active_processes);
  r.Get("total processes", s.total_processes);
  r.Get("max active processes", s.max_active_processes);
  r.Get("max children reached", s.max_children_reached);
  r.Get("slow requests", s.slow_requests);
  r.Get("memory peak", s.memory_peak);
  if (!r.status().ok()) return r.status();
  if (const auto it = document.find("processes"); it != document.end()) {
    if (!it->is_array()) return Status::Error("status: \"processes\" should be an array");
    s.processes.reserve(it->size());
    for (size_t i = 0; i < it->size(); ++i) {
      auto process = ParseProcess((*it)[i], i);
      if (!process.ok()) return process.status();
      s.processes.push_back(std::move(process).value());
    }
  }
  return s;
}

std::map<std::string, int64_t> CountByState(const std::vector<ProcessStatus>& processes) {
  std::map<std::string, int64_t> counts;
  for (const ProcessStatus& process : processes) ++counts[process.state];
  return counts;
}

}  // namespace sre::exporters::php_fpm
