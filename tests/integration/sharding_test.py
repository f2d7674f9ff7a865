"""Probe sharding (issue 11): several agents with the same config share SLA probes with
`replicas: 2`; each runs only the probes it owns by rendezvous hashing of (probe, member).
Members come from a static peer list polled at /-/ready, or from the ready pods of the agent's
DaemonSet on a local stand-in of the Kubernetes API (kube_api.py). Every probe must be run by
exactly 2 agents before and after one of them goes away."""

import collections
import signal
import unittest

from http_probe_test import Server
from kube_api import FakeKubeApi
from support import Agent, free_port, parse_metrics, wait_for

PROBES = 12
REPLICAS = 2


def probe_checks(url):
    items = "".join(f"""\
  - check: page-{i}
    url: {url}/ok?page={i}
    replicas: {REPLICAS}
""" for i in range(PROBES))
    return "http_probe:\n" + items


def runners(agents):
    """{check: [agent index, ...]} of the agents that run each probe, read from what they
    export: sre_agent_probe_owned says they own it, and a probe_success series that they ran it."""
    owned, ran = collections.defaultdict(list), collections.defaultdict(list)
    for index, agent in agents.items():
        for name, labels, value in parse_metrics(agent.metrics()):
            if name == "sre_agent_probe_owned" and value == 1:
                owned[labels["check"]].append(index)
            if name == "probe_success" and labels.get("check", "").startswith("page-"):
                ran[labels["check"]].append(index)
    return owned, ran


def every_probe_on_exactly(agents, count):
    owned, ran = runners(agents)
    checks = [f"page-{i}" for i in range(PROBES)]
    if all(len(owned[c]) == count for c in checks) and owned == ran:
        return owned
    return None


class StaticPeersShardingTest(unittest.TestCase):
    def setUp(self):
        self.target = Server()
        self.urls = [f"http://127.0.0.1:{free_port()}" for _ in range(4)]
        self.agents = {}
        for index, url in enumerate(self.urls):
            config = f"""\
agent:
  interval: 500ms
sharding:
  self: {url}
  peers: [{", ".join(self.urls)}]
  peer_interval: 200ms
""" + probe_checks(f"http://127.0.0.1:{self.target.port}")
            self.agents[index] = Agent(config, f"--web.listen-address={url[len('http://'):]}")

    def tearDown(self):
        for agent in self.agents.values():
            agent.stop()
        self.target.close()

    def test_every_probe_runs_on_exactly_k_agents_before_and_after_one_stops(self):
        before = wait_for(lambda: every_probe_on_exactly(self.agents, REPLICAS),
                          what=f"every probe on exactly {REPLICAS} of 4 agents")
        members = [v for name, _, v in parse_metrics(self.agents[0].metrics())
                   if name == "sre_agent_members"]
        self.assertEqual(members, [4])

        # Agent 3 goes away; the others stop hearing from it and take its probes over.
        self.agents.pop(3).stop(signal.SIGKILL)
        after = wait_for(lambda: every_probe_on_exactly(self.agents, REPLICAS), timeout=15,
                         what=f"every probe on exactly {REPLICAS} of the 3 agents left")
        moved = sum(1 for check in before if set(before[check]) != set(after[check]))
        orphaned = sum(1 for check in before if 3 in before[check])
        # Only the probes agent 3 ran changed hands (rendezvous: nothing else moves).
        self.assertEqual(moved, orphaned)
        print(f"\n{orphaned} of {PROBES} probes moved when 1 of 4 agents left "
              f"(ideal {REPLICAS * PROBES / 4:.0f})")


class KubernetesShardingTest(unittest.TestCase):
    """Members are the ready pods labelled app=sre-agent in namespace monitoring; a pod that
    stops being ready hands its probes over within one watch event."""

    def setUp(self):
        self.target = Server()
        self.api = FakeKubeApi()
        self.agents = {}
        for index in range(3):
            self.api.add_pod(f"sre-agent-{index}", "monitoring", node=f"node-{index}",
                             labels={"app": "sre-agent"})
        self.api.add_pod("unrelated", "monitoring", labels={"app": "other"})
        for index in range(3):
            self.agents[index] = Agent("agent:\n  interval: 500ms\n" + self.api.agent_config() + f"""\
sharding:
  self: sre-agent-{index}
  namespace: monitoring
  label_selector: app=sre-agent
""" + probe_checks(f"http://127.0.0.1:{self.target.port}"))

    def tearDown(self):
        for agent in self.agents.values():
            agent.stop()
        self.api.close()
        self.target.close()

    def test_a_member_that_is_no_longer_ready_hands_its_probes_over(self):
        before = wait_for(lambda: every_probe_on_exactly(self.agents, REPLICAS),
                          what=f"every probe on exactly {REPLICAS} of 3 agents")
        self.api.update_pod("sre-agent-2", "monitoring", ready=False)

        def handed_over():
            owners = every_probe_on_exactly(self.agents, REPLICAS)
            return owners if owners and all(2 not in o for o in owners.values()) else None

        # sre-agent-2 saw the same event: it owns nothing now, and the other two own it all.
        wait_for(handed_over, what="the two ready agents to own every probe")
        moved = sum(1 for check in before if 2 in before[check])
        print(f"\n{moved} of {PROBES} probes moved when 1 of 3 pods stopped being ready")
        self.api.update_pod("sre-agent-2", "monitoring", ready=True)
        # Same members again, same owners again.
        wait_for(lambda: every_probe_on_exactly(self.agents, REPLICAS) == before,
                 what="sre-agent-2 back with the probes it had")


if __name__ == "__main__":
    unittest.main()
