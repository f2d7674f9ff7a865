#include "agent/discovery/pod.h"

#include <gtest/gtest.h>

#include <string>

namespace sre::discovery {
namespace {

// GET /api/v1/pods as the API server answers it (trimmed of fields the agent ignores, such as
// managedFields): one Running, Ready pod and one Pending pod not yet scheduled an IP.
constexpr std::string_view kPodList = R"({
  "kind": "PodList",
  "apiVersion": "v1",
  "metadata": {"resourceVersion": "10245"},
  "items": [
    {
      "metadata": {
        "name": "web-1", "namespace": "default", "uid": "1f6c2e6a-5b7e-4c1c-9f3e-0c8a3b2d1e01",
        "resourceVersion": "10240", "creationTimestamp": "2026-12-01T10:00:00Z",
        "labels": {"app": "web", "pod-template-hash": "7c9f"},
        "annotations": {"sre-agent.io/php-fpm": "tcp://:9000/status"}
      },
      "spec": {
        "nodeName": "node-a",
        "containers": [
          {"name": "nginx", "image": "nginx:1.25",
           "ports": [{"containerPort": 80, "protocol": "TCP"}]},
          {"name": "php", "image": "php:8.3-fpm",
           "ports": [{"name": "fpm", "containerPort": 9000, "protocol": "TCP"},
                     {"containerPort": 9001, "protocol": "UDP"}]}
        ]
      },
      "status": {
        "phase": "Running", "podIP": "10.244.1.7", "podIPs": [{"ip": "10.244.1.7"}],
        "conditions": [
          {"type": "Initialized", "status": "True"},
          {"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-01T10:00:05Z"},
          {"type": "ContainersReady", "status": "True"}
        ]
      }
    },
    {
      "metadata": {"name": "web-2", "namespace": "default", "uid": "uid-2",
                   "resourceVersion": "10245"},
      "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]},
      "status": {"phase": "Pending", "qosClass": "BestEffort"}
    }
  ]
})";

TEST(ParsePodListTest, ReadsTheFieldsTheAgentUses) {
  auto list = ParsePodList(kPodList);
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_EQ(list->resource_version, "10245");
  ASSERT_EQ(list->pods.size(), 2u);

  const Pod& web = list->pods[0];
  EXPECT_EQ(web.name, "web-1");
  EXPECT_EQ(web.namespace_name, "default");
  EXPECT_EQ(web.uid, "1f6c2e6a-5b7e-4c1c-9f3e-0c8a3b2d1e01");
  EXPECT_EQ(web.resource_version, "10240");
  EXPECT_EQ(web.node, "node-a");
  EXPECT_EQ(web.ip, "10.244.1.7");
  EXPECT_EQ(web.phase, "Running");
  EXPECT_TRUE(web.ready);
  EXPECT_FALSE(web.terminating);
  EXPECT_EQ(web.labels.at("app"), "web");
  EXPECT_EQ(web.annotations.at("sre-agent.io/php-fpm"), "tcp://:9000/status");
  ASSERT_EQ(web.containers.size(), 2u);
  EXPECT_EQ(web.containers[0].name, "nginx");
  EXPECT_EQ(web.containers[0].ports, std::vector<int>{80});
  EXPECT_EQ(web.containers[1].ports, std::vector<int>{9000});  // the UDP port is left out

  const Pod& pending = list->pods[1];
  EXPECT_EQ(pending.phase, "Pending");
  EXPECT_EQ(pending.ip, "");
  EXPECT_FALSE(pending.ready);
  EXPECT_TRUE(pending.containers[0].ports.empty());
}

TEST(ParsePodListTest, NoItemsIsAnEmptyList) {
  for (const char* body :
       {R"({"kind":"PodList","metadata":{"resourceVersion":"7"},"items":[]})",
        R"({"kind":"PodList","metadata":{"resourceVersion":"7"},"items":null})"}) {
    auto list = ParsePodList(body);
    ASSERT_TRUE(list.ok()) << body << ": " << list.status().message();
    EXPECT_EQ(list->resource_version, "7");
    EXPECT_TRUE(list->pods.empty());
  }
}

TEST(ParsePodListTest, WrongTypesSayWhere) {
  const struct {
    const char* body;
    const char* error;
  } cases[] = {
      {R"({"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b","labels":[1]}}]})",
       "items[1].metadata.labels: expected an object"},
      {R"({"items":[{"metadata":{"name":"a","annotations":{"x":1}}}]})",
       "items[0].metadata.annotations.x: expected a string"},
      {R"({"items":[{"metadata":{"name":"a"},"spec":{"containers":[{"ports":[{"containerPort":"80"}]}]}}]})",
       "items[0].spec.containers[0].ports[0].containerPort: expected a port number"},
      {R"({"items":[{"metadata":{"name":"a"},"status":{"podIP":10}}]})",
       "items[0].status.podIP: expected a string"},
      {R"({"items":[{"metadata":{"name":"a"},"status":{"conditions":{}}}]})",
       "items[0].status.conditions: expected an array"},
      {R"({"items":[{"metadata":{}}]})", "items[0]: a pod needs metadata.uid or metadata.name"},
      {R"({"items":{}})", "items: expected an array"},
      {R"({"items":[7]})", "items[0]: expected an object"},
      {R"({"kind":"PodList"})", "items: missing"},
      {R"([1,2])", "expected a JSON object"},
  };
  for (const auto& c : cases) {
    auto list = ParsePodList(c.body);
    ASSERT_FALSE(list.ok()) << c.body;
    EXPECT_NE(list.status().message().find(c.error), std::string::npos)
        << c.body << " gave: " << list.status().message();
  }
}

TEST(ParsePodListTest, AStatusInPlaceOfTheListGivesItsMessage) {
  auto list = ParsePodList(
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods is forbidden: User \"system:serviceaccount:sre:agent\" cannot list resource \"pods\"","reason":"Forbidden","code":403})");
  ASSERT_FALSE(list.ok());
  EXPECT_NE(list.status().message().find("403 pods is forbidden"), std::string::npos)
      << list.status().message();
}

TEST(ParsePodListTest, TruncatedAndGarbageInputAreErrors) {
  const std::string body(kPodList);
  for (size_t size = 0; size < body.size(); size += 7) {
    EXPECT_FALSE(ParsePodList(std::string_view(body).substr(0, size)).ok()) << size;
  }
  for (std::string_view garbage :
       {std::string_view("\xff\xfe\x00garbage", 10), std::string_view("{{{{"),
        std::string_view("null"), std::string_view("\"items\""),
        std::string_view("{\"items\":[")}) {
    EXPECT_FALSE(ParsePodList(garbage).ok()) << garbage;
  }
  // Deep nesting must neither overflow the stack nor be accepted.
  const std::string deep =
      "{\"items\":[" + std::string(100000, '[') + std::string(100000, ']') + "]}";
  EXPECT_FALSE(ParsePodList(deep).ok());
}

// Watch lines (GET /api/v1/pods?watch=1&allowWatchBookmarks=true), one JSON object per line.
constexpr std::string_view kAdded =
    R"({"type":"ADDED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-3","namespace":"shop","uid":"uid-3","resourceVersion":"10250"},"spec":{"nodeName":"node-b","containers":[{"name":"fluentd","ports":[{"containerPort":24220}]}]},"status":{"phase":"Running","podIP":"fd00::7","conditions":[{"type":"Ready","status":"False"}]}}})";
constexpr std::string_view kModified =
    R"({"type":"MODIFIED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-3","namespace":"shop","uid":"uid-3","resourceVersion":"10251"},"spec":{"containers":[{"name":"fluentd"}]},"status":{"phase":"Running","podIP":"fd00::7","conditions":[{"type":"Ready","status":"True"}]}}})";
constexpr std::string_view kDeleted =
    R"({"type":"DELETED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-3","namespace":"shop","uid":"uid-3","resourceVersion":"10260","deletionTimestamp":"2026-12-01T11:00:00Z"},"spec":{"containers":[]},"status":{"phase":"Succeeded"}}})";
constexpr std::string_view kBookmark =
    R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"10300","annotations":{"k8s.io/initial-events-end":"true"}}}})";
// The message holds ")\"", so the raw string needs a delimiter.
constexpr std::string_view kExpired =
    R"json({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (2)","reason":"Expired","code":410}})json";

TEST(ParseWatchEventTest, AddedModifiedDeletedCarryThePod) {
  auto added = ParseWatchEvent(kAdded);
  ASSERT_TRUE(added.ok()) << added.status().message();
  EXPECT_EQ(added->type, WatchEvent::Type::kAdded);
  EXPECT_EQ(added->resource_version, "10250");
  EXPECT_EQ(added->pod.name, "web-3");
  EXPECT_EQ(added->pod.ip, "fd00::7");
  EXPECT_FALSE(added->pod.ready);
  EXPECT_EQ(added->pod.containers[0].ports, std::vector<int>{24220});  // protocol defaults to TCP

  auto modified = ParseWatchEvent(std::string(kModified) + "\n");  // as read from the stream
  ASSERT_TRUE(modified.ok()) << modified.status().message();
  EXPECT_EQ(modified->type, WatchEvent::Type::kModified);
  EXPECT_EQ(modified->resource_version, "10251");
  EXPECT_TRUE(modified->pod.ready);

  auto deleted = ParseWatchEvent(kDeleted);
  ASSERT_TRUE(deleted.ok()) << deleted.status().message();
  EXPECT_EQ(deleted->type, WatchEvent::Type::kDeleted);
  EXPECT_EQ(deleted->resource_version, "10260");
  EXPECT_TRUE(deleted->pod.terminating);
}

TEST(ParseWatchEventTest, BookmarkCarriesOnlyTheResourceVersion) {
  auto bookmark = ParseWatchEvent(kBookmark);
  ASSERT_TRUE(bookmark.ok()) << bookmark.status().message();
  EXPECT_EQ(bookmark->type, WatchEvent::Type::kBookmark);
  EXPECT_EQ(bookmark->resource_version, "10300");
  EXPECT_EQ(bookmark->pod, Pod{});
  EXPECT_FALSE(ParseWatchEvent(R"({"type":"BOOKMARK","object":{"metadata":{}}})").ok());
}

TEST(ParseWatchEventTest, ExpiredIsAnErrorEventWithItsCode) {
  auto expired = ParseWatchEvent(kExpired);
  ASSERT_TRUE(expired.ok()) << expired.status().message();
  EXPECT_EQ(expired->type, WatchEvent::Type::kError);
  EXPECT_EQ(expired->error_code, 410);
  EXPECT_EQ(expired->error_message, "too old resource version: 1 (2)");
}

TEST(ParseWatchEventTest, MalformedLinesAreErrors) {
  const struct {
    std::string_view line;
    const char* error;
  } cases[] = {
      {R"({"type":"RESYNC","object":{}})", "unknown watch event type \"RESYNC\""},
      {R"({"type":1,"object":{}})", "type: expected a string"},
      {R"({"object":{}})", "type: missing"},
      {R"({"type":"ADDED"})", "object: missing"},
      {R"({"type":"ADDED","object":[]})", "object: expected an object"},
      {R"({"type":"ADDED","object":{"metadata":{"name":"a","deletionTimestamp":5}}})",
       "object.metadata.deletionTimestamp: expected a string"},
      {"", "not valid JSON"},
      {"{\"type\":\"ADDED\",\"object\":{\"metadata\":", "not valid JSON"},
  };
  for (const auto& c : cases) {
    auto event = ParseWatchEvent(c.line);
    ASSERT_FALSE(event.ok()) << c.line;
    EXPECT_NE(event.status().message().find(c.error), std::string::npos)
        << c.line << " gave: " << event.status().message();
  }
  for (std::string_view line : {kAdded, kModified, kDeleted, kBookmark, kExpired}) {
    for (size_t size = 0; size < line.size(); size += 5) {
      EXPECT_FALSE(ParseWatchEvent(line.substr(0, size)).ok()) << line.substr(0, size);
    }
  }
}

}  // namespace
}  // namespace sre::discovery
