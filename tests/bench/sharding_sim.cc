// Probe sharding by rendezvous hashing (issue 11): for N members and 500 probes with k owners each,
// how evenly the probes spread over the members, how many probe-ownerships move when one member
// leaves or joins (the ideal is k * 500 / N), and what one agent pays to recompute its share on a
// membership change. Prints markdown tables for docs/benchmarks.md. Deterministic: fixed seeds.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "agent/discovery/rendezvous.h"

namespace sre::discovery {
namespace {

constexpr size_t kProbes = 500;

// Kubernetes' own alphabet for generated name suffixes (no vowels, no 0/1/3): what the pods of a
// DaemonSet are called, "sre-agent-x7k2q".
constexpr std::string_view kPodSuffixAlphabet = "bcdfghjklmnpqrstvwxz2456789";

std::vector<std::string> PodNames(size_t n, uint64_t seed, const std::set<std::string>& taken) {
  std::mt19937_64 rng(seed);  // fixed algorithm and seed: the same names on every machine
  std::set<std::string> seen = taken;
  std::vector<std::string> names;
  while (names.size() < n) {
    std::string name = "sre-agent-";
    for (int i = 0; i < 5; ++i) name += kPodSuffixAlphabet[rng() % kPodSuffixAlphabet.size()];
    if (seen.insert(name).second) names.push_back(name);
  }
  return names;
}

std::vector<std::string> ProbeNames() {
  std::vector<std::string> probes;
  for (size_t i = 0; i < kProbes; ++i) {
    probes.push_back("https://www.example.com/path-" + std::to_string(i));
  }
  return probes;
}

using Ownership = std::vector<std::set<std::string>>;  // owners per probe

Ownership OwnersOfAll(const std::vector<std::string>& probes, const Membership& members, size_t k) {
  Ownership owners;
  owners.reserve(probes.size());
  for (const std::string& probe : probes) {
    const std::vector<std::string> list = members.Owners(probe, k);
    owners.emplace_back(list.begin(), list.end());
  }
  return owners;
}

// Probe-ownerships that changed hands: owners in `after` that were not owners in `before`.
size_t Moves(const Ownership& before, const Ownership& after) {
  size_t moves = 0;
  for (size_t p = 0; p < before.size(); ++p) {
    for (const std::string& owner : after[p]) moves += before[p].count(owner) == 0;
  }
  return moves;
}

struct Summary {
  double mean = 0;
  size_t max = 0;
};

Summary Summarise(const std::vector<size_t>& values) {
  Summary s;
  for (size_t v : values) {
    s.mean += static_cast<double>(v);
    s.max = std::max(s.max, v);
  }
  s.mean /= static_cast<double>(values.size());
  return s;
}

template <typename F>
double MedianMillis(int runs, F&& f) {
  std::vector<double> ms;
  for (int r = 0; r < runs; ++r) {
    const auto start = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::nth_element(ms.begin(), ms.begin() + runs / 2, ms.end());
  return ms[static_cast<size_t>(runs / 2)];
}

volatile size_t g_sink;  // keeps the timed loops from being optimised away

void Row(size_t n, size_t k, const std::vector<std::string>& probes) {
  std::vector<std::string> names = PodNames(n, 20261206, {});
  std::sort(names.begin(), names.end());  // so a member's load is indexed by its position
  const Membership members(names);
  const Ownership owners = OwnersOfAll(probes, members, k);

  std::vector<size_t> load(n, 0);
  for (const std::set<std::string>& set : owners) {
    for (const std::string& owner : set) {
      ++load[static_cast<size_t>(std::lower_bound(names.begin(), names.end(), owner) -
                                 names.begin())];
    }
  }
  const double mean = static_cast<double>(kProbes * k) / static_cast<double>(n);
  const size_t min = *std::min_element(load.begin(), load.end());
  const size_t max = *std::max_element(load.begin(), load.end());
  const size_t idle = static_cast<size_t>(std::count(load.begin(), load.end(), 0));
  // With owners drawn uniformly at random, a member owns nothing with probability (1 - k/n)^500.
  double idle_random = static_cast<double>(n);
  for (size_t p = 0; p < kProbes; ++p) idle_random *= 1.0 - static_cast<double>(k) / n;

  std::vector<size_t> leave_moves;
  for (size_t leaving = 0; leaving < n; ++leaving) {
    std::vector<std::string> rest = names;
    rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(leaving));
    leave_moves.push_back(Moves(owners, OwnersOfAll(probes, Membership(rest), k)));
  }
  std::vector<size_t> join_moves;
  for (const std::string& joining : PodNames(100, 7, {names.begin(), names.end()})) {
    std::vector<std::string> more = names;
    more.push_back(joining);
    join_moves.push_back(Moves(owners, OwnersOfAll(probes, Membership(more), k)));
  }
  const Summary leave = Summarise(leave_moves);
  const Summary join = Summarise(join_moves);

  std::printf(
      "| %zu | %zu | %zu | %.2f | %zu | %.2f | %zu (%.0f) | %.2f / %zu | %.2f | %.2f / %zu | %.2f "
      "|\n",
      n, k, min, mean, max, static_cast<double>(max) / mean, idle, idle_random, leave.mean,
      leave.max, static_cast<double>(k * kProbes) / n, join.mean, join.max,
      static_cast<double>(k * kProbes) / (n + 1));
}

void TimingRow(size_t n, size_t k, const std::vector<std::string>& probes) {
  const std::vector<std::string> names = PodNames(n, 20261206, {});
  const std::string& self = names[n / 2];
  constexpr int kRuns = 21;
  const double free_ms = MedianMillis(kRuns, [&] {
    size_t owned = 0;
    for (const std::string& probe : probes) owned += Owns(probe, self, names, k);
    g_sink = owned;
  });
  const double membership_ms = MedianMillis(kRuns, [&] {
    const Membership members(names);
    size_t owned = 0;
    for (const std::string& probe : probes) owned += members.Owns(probe, self, k);
    g_sink = owned;
  });
  // Every probe's full owner list (a landing page showing who runs what): no early exit here.
  const double all_owners_ms = MedianMillis(kRuns, [&] {
    const Membership members(names);
    size_t owners = 0;
    for (const std::string& probe : probes) owners += members.Owners(probe, k).size();
    g_sink = owners;
  });
  std::printf("| %zu | %zu | %.3f | %.3f | %.3f |\n", n, k, free_ms, membership_ms, all_owners_ms);
}

}  // namespace
}  // namespace sre::discovery

int main() {
  using namespace sre::discovery;
  const std::vector<std::string> probes = ProbeNames();
  std::printf(
      "Rendezvous hashing, %zu probes; moves are probe-ownerships that change hands, mean / "
      "max over every leaving member and over 100 joining ones.\n\n",
      kProbes);
  std::printf(
      "| members | k | min load | mean | max | max/mean | idle members (random) | "
      "moves on leave | ideal | moves on join | ideal |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (size_t n : {100, 1000}) {
    for (size_t k : {1, 2, 3}) Row(n, k, probes);
  }
  std::printf(
      "\nOne agent recomputing its share after a membership change (%zu probes), median of 21 "
      "runs, ms. Owns() stops as soon as k members outrank self, so it rarely scans every "
      "member:\n\n",
      kProbes);
  std::printf(
      "| members | k | Owns() on the name list | Membership built + Owns() | Membership built + "
      "Owners() of every probe |\n");
  std::printf("|---:|---:|---:|---:|---:|\n");
  for (size_t n : {100, 1000}) {
    for (size_t k : {1, 2, 3}) TimingRow(n, k, probes);
  }
  return 0;
}
