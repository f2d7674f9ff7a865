#include "agent/alerting/notification.h"

#include <fmt/format.h>

#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

namespace sre::alerting {

std::string_view Notification::Label(std::string_view name) const {
  for (const auto& label : labels) {
    if (label.name == name) return label.value;
  }
  return {};
}

uint64_t Fingerprint(const Labels& labels) {
  // Alertmanager's labels fingerprint (FNV-1a 64, 0xff after each name and value), so the
  // webhook payload's fingerprint and PagerDuty's dedup_key equal what Alertmanager shows.
  uint64_t hash = 14695981039346656037ull;
  auto mix = [&](std::string_view text) {
    for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
    hash = (hash ^ 0xff) * 1099511628211ull;  // a byte UTF-8 never holds
  };
  for (const auto& label : labels) {
    mix(label.name);
    mix(label.value);
  }
  return hash;
}

std::string FingerprintHex(const Labels& labels) {
  return fmt::format("{:016x}", Fingerprint(labels));
}

std::string EncodeNotification(const Notification& notification) {
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& label : notification.labels) labels[label.name] = label.value;
  nlohmann::json json = {{"labels", std::move(labels)},
                         {"annotations", notification.annotations},
                         {"firing", notification.firing},
                         {"value", notification.value},
                         {"starts_at", notification.starts_at_unix},
                         {"resolved_at", notification.resolved_at_unix},
                         {"generator_url", notification.generator_url}};
  // NaN and Inf are not JSON: dump would write null, which decodes back as NaN below.
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Notification> DecodeNotification(std::string_view text) {
  const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return Status::Error("a notification is not a JSON object");
  auto string_map = [](const nlohmann::json& node,
                       const std::function<void(const std::string&, std::string)>& add) {
    if (!node.is_object()) return false;
    for (const auto& [name, value] : node.items()) {
      if (!value.is_string()) return false;
      add(name, value.get<std::string>());
    }
    return true;
  };
  auto number = [&](const char* key, double& out) {
    auto it = json.find(key);
    if (it == json.end()) return false;
    if (it->is_null()) {
      out = std::numeric_limits<double>::quiet_NaN();
      return true;
    }
    if (!it->is_number()) return false;
    out = it->get<double>();
    return true;
  };
  Notification notification;
  auto labels = json.find("labels");
  auto annotations = json.find("annotations");
  auto firing = json.find("firing");
  auto url = json.find("generator_url");
  // nlohmann's object keeps keys sorted, so the labels come out sorted by name.
  const bool ok = labels != json.end() &&
                  string_map(*labels,
                             [&](const std::string& n, std::string v) {
                               notification.labels.push_back({n, std::move(v)});
                             }) &&
                  annotations != json.end() &&
                  string_map(*annotations,
                             [&](const std::string& n, std::string v) {
                               notification.annotations.emplace(n, std::move(v));
                             }) &&
                  firing != json.end() && firing->is_boolean() && url != json.end() &&
                  url->is_string() && number("value", notification.value) &&
                  number("starts_at", notification.starts_at_unix) &&
                  number("resolved_at", notification.resolved_at_unix);
  if (!ok) return Status::Error("a notification lacks a field or has one of the wrong type");
  notification.firing = firing->get<bool>();
  notification.generator_url = url->get<std::string>();
  return notification;
}

}  // namespace sre::alerting
