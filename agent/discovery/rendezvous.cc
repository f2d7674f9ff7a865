#include "agent/discovery/rendezvous.h"

#include <algorithm>
#include <utility>

namespace sre::discovery {
namespace {

// Why FNV-1a 64 + fmix64: FNV-1a is a published, byte-order-free definition (no seed, no
// platform-dependent width), which is what "the same weight in every agent version" needs;
// std::hash promises none of that. Its weakness is avalanche: the last bytes of the input barely
// reach the high bits, and pod names differ only in their last five characters. murmur3's fmix64
// finalizer (a bijection with full avalanche) fixes that. Both are a few lines with well-known test
// vectors, so no dependency is needed.
constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

uint64_t Fnv1a64(std::string_view text) {
  uint64_t hash = kFnvOffsetBasis;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= kFnvPrime;
  }
  return hash;
}

// murmur3's 64-bit finalizer (Appleby, MurmurHash3.cpp).
uint64_t Fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

struct Candidate {
  uint64_t weight;
  std::string_view name;
};

// The ranking: higher weight first; equal weights (a 2^-64 event between distinct names) by name,
// so the answer is still total and the same everywhere.
bool Ranks(const Candidate& a, const Candidate& b) {
  return a.weight != b.weight ? a.weight > b.weight : a.name < b.name;
}

// The best `replicas` of n members, kept in a small sorted buffer: O(n * replicas) with replicas
// in the single digits, and no sort of the whole list. A duplicate name has the same weight as its
// first copy, so it is either already in the buffer (skipped) or not good enough.
template <typename HashAt, typename NameAt>
std::vector<std::string> TopOwners(uint64_t probe_hash, size_t n, HashAt hash_at, NameAt name_at,
                                   size_t replicas) {
  std::vector<Candidate> best;
  best.reserve(std::min(replicas, n) + 1);
  for (size_t i = 0; i < n && replicas > 0; ++i) {
    const Candidate c{CombineWeights(probe_hash, hash_at(i)), name_at(i)};
    if (best.size() == replicas && !Ranks(c, best.back())) continue;
    if (std::any_of(best.begin(), best.end(),
                    [&](const Candidate& b) { return b.name == c.name; })) {
      continue;
    }
    best.insert(std::upper_bound(best.begin(), best.end(), c, Ranks), c);
    if (best.size() > replicas) best.pop_back();
  }
  std::vector<std::string> owners;
  owners.reserve(best.size());
  for (const Candidate& c : best) owners.emplace_back(c.name);
  return owners;
}

// Whether `self` ranks among the best `replicas`: count the distinct members that beat it and
// stop at `replicas`. Distinctness is checked only among the (at most `replicas`) beaters seen.
template <typename HashAt, typename NameAt, typename IsSelf>
bool RanksAmongOwners(uint64_t probe_hash, const Candidate& self, size_t n, HashAt hash_at,
                      NameAt name_at, IsSelf is_self, size_t replicas) {
  if (replicas == 0) return false;
  bool present = false;
  std::vector<std::string_view> beaters;
  for (size_t i = 0; i < n; ++i) {
    if (is_self(i)) {
      present = true;
      continue;
    }
    const Candidate c{CombineWeights(probe_hash, hash_at(i)), name_at(i)};
    if (!Ranks(c, self)) continue;
    if (std::find(beaters.begin(), beaters.end(), c.name) != beaters.end()) continue;
    beaters.push_back(c.name);
    if (beaters.size() >= replicas) return false;
  }
  return present;
}

}  // namespace

uint64_t StableHash(std::string_view text) { return Fmix64(Fnv1a64(text)); }

uint64_t CombineWeights(uint64_t probe_hash, uint64_t member_hash) {
  // Both inputs are already fully mixed; one more fmix64 over their xor makes each probe's
  // ranking of the members look independent of every other probe's.
  return Fmix64(probe_hash ^ member_hash);
}

uint64_t RendezvousWeight(std::string_view probe, std::string_view member) {
  return CombineWeights(StableHash(probe), StableHash(member));
}

std::vector<std::string> Owners(std::string_view probe, const std::vector<std::string>& members,
                                size_t replicas) {
  return TopOwners(
      StableHash(probe), members.size(), [&](size_t i) { return StableHash(members[i]); },
      [&](size_t i) { return std::string_view(members[i]); }, replicas);
}

bool Owns(std::string_view probe, std::string_view self, const std::vector<std::string>& members,
          size_t replicas) {
  const uint64_t probe_hash = StableHash(probe);
  const Candidate me{CombineWeights(probe_hash, StableHash(self)), self};
  return RanksAmongOwners(
      probe_hash, me, members.size(), [&](size_t i) { return StableHash(members[i]); },
      [&](size_t i) { return std::string_view(members[i]); },
      [&](size_t i) { return members[i] == self; }, replicas);
}

Membership::Membership(std::vector<std::string> members) : names_(std::move(members)) {
  std::sort(names_.begin(), names_.end());
  names_.erase(std::unique(names_.begin(), names_.end()), names_.end());
  hashes_.reserve(names_.size());
  for (const std::string& name : names_) hashes_.push_back(StableHash(name));
}

std::vector<std::string> Membership::Owners(std::string_view probe, size_t replicas) const {
  return TopOwners(
      StableHash(probe), names_.size(), [&](size_t i) { return hashes_[i]; },
      [&](size_t i) { return std::string_view(names_[i]); }, replicas);
}

bool Membership::Owns(std::string_view probe, std::string_view self, size_t replicas) const {
  const auto it = std::lower_bound(names_.begin(), names_.end(), self);
  if (it == names_.end() || *it != self) return false;
  const size_t self_index = static_cast<size_t>(it - names_.begin());
  const uint64_t probe_hash = StableHash(probe);
  const Candidate me{CombineWeights(probe_hash, hashes_[self_index]), self};
  // Names are unique here, so "is self" is an index compare, not a string compare per member.
  return RanksAmongOwners(
      probe_hash, me, names_.size(), [&](size_t i) { return hashes_[i]; },
      [&](size_t i) { return std::string_view(names_[i]); },
      [&](size_t i) { return i == self_index; }, replicas);
}

}  // namespace sre::discovery
