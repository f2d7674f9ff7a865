#include "agent/discovery/pod.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace sre::discovery {
namespace {

using json = nlohmann::json;

// Every read checks the type first: nlohmann's get<>() throws on a mismatch, and nothing on the
// watch path may throw. A member that is missing or null is "not set" (Go omits empty fields, and
// some clients write null); a member of the wrong type is an error naming its path.

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

Status Expected(const std::string& path, std::string_view what) {
  return Status::Error(fmt::format("{}: expected {}", path.empty() ? "body" : path, what));
}

/// The member `key` of `object` (an object), or nullptr when missing or null.
const json* Member(const json& object, std::string_view key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

Status ReadString(const json& object, std::string_view key, const std::string& path,
                  std::string& out) {
  const json* value = Member(object, key);
  if (value == nullptr) return Status::Ok();
  if (!value->is_string()) return Expected(Join(path, key), "a string");
  out = value->get_ref<const std::string&>();
  return Status::Ok();
}

/// Sets `out` to the object member `key`, or nullptr when it is not set.
Status ReadObject(const json& object, std::string_view key, const std::string& path,
                  const json*& out) {
  out = Member(object, key);
  if (out != nullptr && !out->is_object()) return Expected(Join(path, key), "an object");
  return Status::Ok();
}

Status ReadArray(const json& object, std::string_view key, const std::string& path,
                 const json*& out) {
  out = Member(object, key);
  if (out != nullptr && !out->is_array()) return Expected(Join(path, key), "an array");
  return Status::Ok();
}

Status ReadStringMap(const json& object, std::string_view key, const std::string& path,
                     std::map<std::string, std::string>& out) {
  const json* map = nullptr;
  if (Status s = ReadObject(object, key, path, map); !s.ok() || map == nullptr) return s;
  const std::string map_path = Join(path, key);
  for (const auto& [name, value] : map->items()) {
    if (!value.is_string()) return Expected(Join(map_path, name), "a string");
    out[name] = value.get_ref<const std::string&>();
  }
  return Status::Ok();
}

Status ReadMetadata(const json& pod, const std::string& path, Pod& out) {
  const json* metadata = nullptr;
  if (Status s = ReadObject(pod, "metadata", path, metadata); !s.ok() || metadata == nullptr) {
    return s;
  }
  const std::string at = Join(path, "metadata");
  std::string deletion;
  for (Status s : {ReadString(*metadata, "name", at, out.name),
                   ReadString(*metadata, "namespace", at, out.namespace_name),
                   ReadString(*metadata, "uid", at, out.uid),
                   ReadString(*metadata, "resourceVersion", at, out.resource_version),
                   ReadString(*metadata, "deletionTimestamp", at, deletion),
                   ReadStringMap(*metadata, "labels", at, out.labels),
                   ReadStringMap(*metadata, "annotations", at, out.annotations)}) {
    if (!s.ok()) return s;
  }
  out.terminating = !deletion.empty();
  return Status::Ok();
}

/// Only TCP ports: the checks that look a container up by port connect over TCP.
Status ReadPorts(const json& container, const std::string& path, std::vector<int>& out) {
  const json* ports = nullptr;
  if (Status s = ReadArray(container, "ports", path, ports); !s.ok() || ports == nullptr) return s;
  for (size_t i = 0; i < ports->size(); ++i) {
    const json& port = (*ports)[i];
    const std::string at = fmt::format("{}.ports[{}]", path, i);
    if (!port.is_object()) return Expected(at, "an object");
    std::string protocol = "TCP";  // the API's default
    if (Status s = ReadString(port, "protocol", at, protocol); !s.ok()) return s;
    const json* number = Member(port, "containerPort");
    if (number == nullptr) continue;
    if (!number->is_number_integer() || *number < 1 || *number > 65535) {
      return Expected(at + ".containerPort", "a port number");
    }
    if (protocol == "TCP") out.push_back(number->get<int>());
  }
  return Status::Ok();
}

Status ReadSpec(const json& pod, const std::string& path, Pod& out) {
  const json* spec = nullptr;
  if (Status s = ReadObject(pod, "spec", path, spec); !s.ok() || spec == nullptr) return s;
  const std::string at = Join(path, "spec");
  if (Status s = ReadString(*spec, "nodeName", at, out.node); !s.ok()) return s;
  const json* containers = nullptr;
  if (Status s = ReadArray(*spec, "containers", at, containers); !s.ok() || containers == nullptr) {
    return s;
  }
  for (size_t i = 0; i < containers->size(); ++i) {
    const json& item = (*containers)[i];
    const std::string item_path = fmt::format("{}.containers[{}]", at, i);
    if (!item.is_object()) return Expected(item_path, "an object");
    PodContainer container;
    if (Status s = ReadString(item, "name", item_path, container.name); !s.ok()) return s;
    if (Status s = ReadPorts(item, item_path, container.ports); !s.ok()) return s;
    out.containers.push_back(std::move(container));
  }
  return Status::Ok();
}

Status ReadStatus(const json& pod, const std::string& path, Pod& out) {
  const json* status = nullptr;
  if (Status s = ReadObject(pod, "status", path, status); !s.ok() || status == nullptr) return s;
  const std::string at = Join(path, "status");
  if (Status s = ReadString(*status, "phase", at, out.phase); !s.ok()) return s;
  if (Status s = ReadString(*status, "podIP", at, out.ip); !s.ok()) return s;
  const json* conditions = nullptr;
  if (Status s = ReadArray(*status, "conditions", at, conditions); !s.ok() || !conditions) {
    return s;
  }
  for (size_t i = 0; i < conditions->size(); ++i) {
    const json& condition = (*conditions)[i];
    const std::string item_path = fmt::format("{}.conditions[{}]", at, i);
    if (!condition.is_object()) return Expected(item_path, "an object");
    std::string type, value;
    if (Status s = ReadString(condition, "type", item_path, type); !s.ok()) return s;
    if (Status s = ReadString(condition, "status", item_path, value); !s.ok()) return s;
    if (type == "Ready") out.ready = value == "True";
  }
  return Status::Ok();
}

Result<Pod> ReadPod(const json& object, const std::string& path) {
  if (!object.is_object()) return Expected(path, "an object");
  Pod pod;
  for (Status s : {ReadMetadata(object, path, pod), ReadSpec(object, path, pod),
                   ReadStatus(object, path, pod)}) {
    if (!s.ok()) return s;
  }
  if (pod.uid.empty() && pod.name.empty()) {
    return Status::Error(fmt::format("{}: a pod needs metadata.uid or metadata.name", path));
  }
  return pod;
}

/// A Status object (what the API server answers instead of a list, or sends as a watch ERROR):
/// its code and message, when readable.
void ReadApiStatus(const json& object, int& code, std::string& message) {
  if (const json* c = Member(object, "code");
      c != nullptr && c->is_number_integer() && *c >= 0 && *c <= 999) {
    code = c->get<int>();
  }
  if (const json* m = Member(object, "message"); m != nullptr && m->is_string()) {
    message = m->get_ref<const std::string&>();
  }
}

Result<json> ParseJson(std::string_view text) {
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return Status::Error("not valid JSON (truncated or garbage)");
  if (!document.is_object()) return Expected("", "a JSON object");
  return document;
}

Result<WatchEvent::Type> EventType(const std::string& type) {
  if (type == "ADDED") return WatchEvent::Type::kAdded;
  if (type == "MODIFIED") return WatchEvent::Type::kModified;
  if (type == "DELETED") return WatchEvent::Type::kDeleted;
  if (type == "BOOKMARK") return WatchEvent::Type::kBookmark;
  if (type == "ERROR") return WatchEvent::Type::kError;
  return Status::Error(fmt::format(
      "type: unknown watch event type \"{}\"; expected ADDED, MODIFIED, DELETED, BOOKMARK or "
      "ERROR",
      type));
}

}  // namespace

Result<PodList> ParsePodList(std::string_view body) {
  auto document = ParseJson(body);
  if (!document.ok()) return document.status();
  const json& root = *document;
  std::string kind;
  if (Status s = ReadString(root, "kind", "", kind); !s.ok()) return s;
  if (kind == "Status") {  // a refusal (403, 410...) in place of the list
    int code = 0;
    std::string message;
    ReadApiStatus(root, code, message);
    return Status::Error(fmt::format("the API server answered a Status: {} {}", code, message));
  }
  PodList list;
  const json* metadata = nullptr;
  if (Status s = ReadObject(root, "metadata", "", metadata); !s.ok()) return s;
  if (metadata != nullptr) {
    if (Status s = ReadString(*metadata, "resourceVersion", "metadata", list.resource_version);
        !s.ok()) {
      return s;
    }
  }
  // `items` is always present in a list (a Go nil slice is written as null: no pods).
  if (!root.contains("items")) return Status::Error("items: missing; is this a PodList?");
  const json* items = nullptr;
  if (Status s = ReadArray(root, "items", "", items); !s.ok()) return s;
  if (items == nullptr) return list;
  list.pods.reserve(items->size());
  for (size_t i = 0; i < items->size(); ++i) {
    auto pod = ReadPod((*items)[i], fmt::format("items[{}]", i));
    if (!pod.ok()) return pod.status();
    list.pods.push_back(std::move(pod).value());
  }
  return list;
}

Result<WatchEvent> ParseWatchEvent(std::string_view line) {
  auto document = ParseJson(line);
  if (!document.ok()) return document.status();
  const json& root = *document;
  const json* type = Member(root, "type");
  if (type == nullptr) return Status::Error("type: missing");
  if (!type->is_string()) return Expected("type", "a string");
  auto event_type = EventType(type->get_ref<const std::string&>());
  if (!event_type.ok()) return event_type.status();
  const json* object = nullptr;
  if (Status s = ReadObject(root, "object", "", object); !s.ok()) return s;
  if (object == nullptr) return Status::Error("object: missing");

  WatchEvent event;
  event.type = *event_type;
  switch (event.type) {
    case WatchEvent::Type::kError:
      ReadApiStatus(*object, event.error_code, event.error_message);
      return event;
    case WatchEvent::Type::kBookmark: {
      // A bookmark carries nothing but where the stream has got to.
      const json* metadata = nullptr;
      if (Status s = ReadObject(*object, "metadata", "object", metadata); !s.ok()) return s;
      if (metadata != nullptr) {
        if (Status s =
                ReadString(*metadata, "resourceVersion", "object.metadata", event.resource_version);
            !s.ok()) {
          return s;
        }
      }
      if (event.resource_version.empty()) {
        return Status::Error("object.metadata.resourceVersion: missing in a BOOKMARK");
      }
      return event;
    }
    default: {
      auto pod = ReadPod(*object, "object");
      if (!pod.ok()) return pod.status();
      event.pod = std::move(pod).value();
      event.resource_version = event.pod.resource_version;
      return event;
    }
  }
}

}  // namespace sre::discovery
