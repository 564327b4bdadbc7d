package fakefedi

import (
	"encoding/binary"
	"hash/fnv"
)

// EngagementFunc gives the engagement counts of a status, keyed by its uri.
// The corpus has no counts at all (its source never stored them), so every
// number a test or a dev run sees comes from one of these.
type EngagementFunc func(uri string) (reblogs, favourites, replies int)

// NoEngagement reports zero for every count; it is the default, because
// invented numbers must be asked for explicitly.
func NoEngagement(uri string) (reblogs, favourites, replies int) { return 0, 0, 0 }

// SyntheticEngagement returns deterministic, made-up counts derived from a
// hash of (seed, uri): about a quarter of the posts get no engagement at all
// (as on real timelines, where most posts go unnoticed); the others get
// reblogs 0–30, favourites between the reblog count and 80 (favourites are
// almost always at least as frequent as boosts) and replies 0–10. The same
// seed and uri always give the same numbers, so rankings are reproducible.
func SyntheticEngagement(seed int64) EngagementFunc {
	return func(uri string) (reblogs, favourites, replies int) {
		h := fnv.New64a()
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(seed))
		h.Write(b[:])
		h.Write([]byte(uri))
		x := mix64(h.Sum64())
		if x%4 == 0 {
			return 0, 0, 0
		}
		reblogs = int((x >> 8) % 31)
		favourites = reblogs + int((x>>20)%uint64(81-reblogs))
		replies = int((x >> 40) % 11)
		return reblogs, favourites, replies
	}
}

// mix64 is the splitmix64 finaliser: FNV alone leaves the low bits of
// similar uris (which differ only in a few trailing digits) correlated.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
