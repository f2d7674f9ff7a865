#include "agent/discovery/pod_checks.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "exporters/builtin.h"

namespace sre::discovery {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

class ChecksForPodsTest : public ::testing::Test {
 protected:
  ChecksForPodsTest() { exporters::RegisterBuiltinExporters(registry_); }

  PodChecks Checks(const std::vector<Pod>& pods) {
    return ChecksForPods(pods, registry_, defaults_);
  }

  ExporterRegistry registry_;
  DiscoveredCheckDefaults defaults_;
};

/// A ready php-fpm pod: nginx on 80, php-fpm on 9000 in the second container.
Pod PhpPod(std::string name = "web-1", std::string ip = "10.244.1.7") {
  Pod pod;
  pod.uid = "uid-" + name;
  pod.namespace_name = "default";
  pod.name = std::move(name);
  pod.node = "node-a";
  pod.ip = std::move(ip);
  pod.phase = "Running";
  pod.ready = true;
  pod.resource_version = "100";
  pod.labels = {{"app", "web"}};
  pod.annotations = {{"sre-agent.io/php-fpm", "tcp://:9000/status"}};
  pod.containers = {{"nginx", {80}}, {"php", {9000}}};
  return pod;
}

Pod FluentdPod() {
  Pod pod = PhpPod("fluentd-x7k2p", "fd00::7");
  pod.namespace_name = "logging";
  pod.annotations = {{"sre-agent.io/fluentd", "http://:24220"}};
  pod.containers = {{"fluentd", {}}};
  return pod;
}

TEST_F(ChecksForPodsTest, AnnotationsBecomeChecksOfTheirExporter) {
  PodChecks checks = Checks({PhpPod(), FluentdPod()});
  EXPECT_THAT(checks.errors, IsEmpty());
  ASSERT_EQ(checks.specs.size(), 2u);

  const InstanceSpec& fluentd = checks.specs[0];  // sorted by exporter
  EXPECT_EQ(fluentd.exporter, "fluentd");
  EXPECT_EQ(fluentd.settings.check, "logging/fluentd-x7k2p");
  EXPECT_EQ(fluentd.target, "http://[fd00::7]:24220");                // IPv6 in brackets
  EXPECT_EQ(fluentd.settings.labels.at("k8s_container"), "fluentd");  // no port declared: first

  const InstanceSpec& php = checks.specs[1];
  EXPECT_EQ(php.exporter, "php_fpm");
  EXPECT_EQ(php.settings.check, "default/web-1");
  EXPECT_EQ(php.target, "tcp://10.244.1.7:9000/status");
  EXPECT_EQ(php.settings.labels, (std::map<std::string, std::string>{
                                     {"k8s_namespace", "default"},
                                     {"k8s_pod", "web-1"},
                                     {"k8s_container", "php"},  // the one that declares 9000
                                 }));
  EXPECT_EQ(php.settings.interval, std::chrono::seconds(15));
  EXPECT_EQ(php.settings.timeout, std::chrono::seconds(10));
}

TEST_F(ChecksForPodsTest, TimeoutIsCappedBelowTheInterval) {
  defaults_.interval = std::chrono::seconds(5);
  PodChecks checks = Checks({PhpPod()});
  ASSERT_EQ(checks.specs.size(), 1u) << ::testing::PrintToString(checks.errors);
  EXPECT_EQ(checks.specs[0].settings.timeout, std::chrono::seconds(4));
}

TEST_F(ChecksForPodsTest, APodMayOnlyAskForChecksOfItself) {
  // Whoever may annotate a pod must not point the agent elsewhere (another service, the
  // cloud's metadata address): a host, when written, must be the pod's own IP.
  Pod pod = PhpPod();
  pod.annotations["sre-agent.io/php-fpm"] = "tcp://10.244.1.7:9001/fpm-status";
  pod.annotations["sre-agent.io/fluentd"] = "http://169.254.169.254:24220";
  PodChecks checks = Checks({pod});
  ASSERT_EQ(checks.specs.size(), 1u);
  EXPECT_EQ(checks.specs[0].target, "tcp://10.244.1.7:9001/fpm-status");
  EXPECT_EQ(checks.specs[0].settings.labels.at("k8s_container"), "nginx");  // 9001: the first
  ASSERT_EQ(checks.errors.size(), 1u);
  EXPECT_THAT(checks.errors[0], HasSubstr("host \"169.254.169.254\" is not the pod's IP"));
}

TEST_F(ChecksForPodsTest, PodsNotReadyTerminatingOrWithoutIpAreSkipped) {
  Pod not_ready = PhpPod("a");
  not_ready.ready = false;
  Pod terminating = PhpPod("b");
  terminating.terminating = true;
  Pod no_ip = PhpPod("c", "");
  Pod no_annotation = PhpPod("d");
  no_annotation.annotations.clear();
  PodChecks checks = Checks({not_ready, terminating, no_ip, no_annotation, PhpPod("e")});
  EXPECT_THAT(checks.errors, IsEmpty());
  ASSERT_EQ(checks.specs.size(), 1u);
  EXPECT_EQ(checks.specs[0].settings.check, "default/e");
}

TEST_F(ChecksForPodsTest, ABadAnnotationIsReportedAndTheOthersKept) {
  Pod bad = PhpPod("bad");
  bad.annotations["sre-agent.io/php-fpm"] = "tcp://:9000";  // no status path
  bad.annotations["sre-agent.io/fluentd"] = "http://:24220";
  Pod no_port = PhpPod("no-port");
  no_port.annotations["sre-agent.io/php-fpm"] = "tcp:///status";
  Pod scheme = PhpPod("scheme");
  scheme.annotations["sre-agent.io/php-fpm"] = ":9000/status";
  PodChecks checks = Checks({bad, no_port, scheme, PhpPod("good")});

  ASSERT_EQ(checks.errors.size(), 3u);
  EXPECT_THAT(checks.errors[0], HasSubstr("default/bad: sre-agent.io/php-fpm: invalid scrape_uri "
                                          "\"tcp://10.244.1.7:9000\""));
  EXPECT_THAT(
      checks.errors[1],
      HasSubstr("default/no-port: sre-agent.io/php-fpm: invalid address \"tcp:///status\""));
  EXPECT_THAT(checks.errors[2], HasSubstr("default/scheme: sre-agent.io/php-fpm: invalid address"));
  for (const std::string& error : checks.errors) {
    EXPECT_THAT(error, ::testing::Not(HasSubstr("annotation sre-agent.io")))  // no context name
        << error;
  }
  ASSERT_EQ(checks.specs.size(), 2u);
  EXPECT_EQ(checks.specs[0].exporter, "fluentd");
  EXPECT_EQ(checks.specs[0].settings.check, "default/bad");
  EXPECT_EQ(checks.specs[1].settings.check, "default/good");
}

TEST_F(ChecksForPodsTest, ValuesFromTheClusterAreNotExpanded) {
  Pod pod = PhpPod();
  pod.annotations["sre-agent.io/php-fpm"] = "tcp://:9000/status${HOME}";
  PodChecks checks = Checks({pod});
  // Whatever the exporter makes of it, `${HOME}` must not be looked up or replaced.
  for (const InstanceSpec& spec : checks.specs) EXPECT_THAT(spec.target, HasSubstr("${HOME}"));
  for (const std::string& error : checks.errors) EXPECT_THAT(error, HasSubstr("${HOME}"));
  EXPECT_EQ(checks.specs.size() + checks.errors.size(), 1u);
}

TEST_F(ChecksForPodsTest, FingerprintFollowsOnlyWhatTheCheckUses) {
  const std::string before = Checks({PhpPod()}).specs.at(0).fingerprint;
  EXPECT_FALSE(before.empty());

  Pod updated = PhpPod();
  updated.resource_version = "101";
  updated.labels["version"] = "2";
  updated.node = "node-b";
  updated.annotations["unrelated.io/note"] = "x";
  EXPECT_EQ(Checks({updated}).specs.at(0).fingerprint, before);

  EXPECT_NE(Checks({PhpPod("web-1", "10.244.1.8")}).specs.at(0).fingerprint, before);
  Pod moved = PhpPod();
  moved.annotations["sre-agent.io/php-fpm"] = "tcp://:9000/fpm";
  EXPECT_NE(Checks({moved}).specs.at(0).fingerprint, before);
}

TEST(CheckAnnotationsTest, NamesEachAnnotationsExporter) {
  ExporterRegistry registry;
  exporters::RegisterBuiltinExporters(registry);
  ASSERT_EQ(CheckAnnotations().size(), 2u);
  for (const auto& [annotation, exporter] : CheckAnnotations()) {
    EXPECT_TRUE(annotation.starts_with("sre-agent.io/")) << annotation;
    EXPECT_NE(registry.Find(exporter), nullptr) << exporter;
  }
}

}  // namespace
}  // namespace sre::discovery
