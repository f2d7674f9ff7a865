#pragma once

// Probe ownership by rendezvous (highest random weight) hashing: each agent of the DaemonSet
// decides alone, from the same member list, which SLA probes it runs. No coordinator, no state:
// agents that see the same members compute the same owners, and a member that leaves hands over
// only the probes it owned, each to exactly one other member. See ADR 0018.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sre::discovery {

/// A hash of `text` that is the same in every process, on every machine and in every version of
/// the agent: FNV-1a 64 over the bytes, then the murmur3 fmix64 finalizer. Never change it: two
/// agent versions in one DaemonSet (a rolling update) must agree on every probe's owners.
uint64_t StableHash(std::string_view text);

/// The weight of (probe, member) from the two strings' StableHash values. Hashing the strings
/// separately (not their concatenation) means ("ab", "c") and ("a", "bc") cannot collide, and lets
/// a caller hash each member once per membership change instead of once per probe.
uint64_t CombineWeights(uint64_t probe_hash, uint64_t member_hash);

/// CombineWeights(StableHash(probe), StableHash(member)).
uint64_t RendezvousWeight(std::string_view probe, std::string_view member);

/// The `replicas` members with the highest weights for `probe`, best first; equal weights are
/// ordered by member name. Duplicates in `members` count once; `replicas` is capped at the number
/// of distinct members. The result does not depend on the order of `members`. O(n * replicas).
std::vector<std::string> Owners(std::string_view probe, const std::vector<std::string>& members,
                                size_t replicas);

/// Whether `self` is among Owners(probe, members, replicas), without building that list: one pass
/// over `members`, stopping as soon as `replicas` distinct members beat `self`. False when `self`
/// is not in `members` (an agent that is not ready owns nothing) or `replicas` is 0.
bool Owns(std::string_view probe, std::string_view self, const std::vector<std::string>& members,
          size_t replicas);

/// One membership view, for callers that ask about many probes (every agent on every membership
/// change: all configured probes against all members). Names are deduplicated and each member's
/// StableHash is computed once here, so a question costs one mix per member, not one string hash.
/// Answers equal the free functions' above. Immutable after construction, so safe to share
/// between threads.
class Membership {
 public:
  explicit Membership(std::vector<std::string> members);

  /// Distinct member names, sorted.
  const std::vector<std::string>& names() const { return names_; }
  size_t size() const { return names_.size(); }

  /// As the free Owners().
  std::vector<std::string> Owners(std::string_view probe, size_t replicas) const;
  /// As the free Owns().
  bool Owns(std::string_view probe, std::string_view self, size_t replicas) const;

 private:
  std::vector<std::string> names_;
  std::vector<uint64_t> hashes_;  ///< StableHash(names_[i])
};

}  // namespace sre::discovery
