// Package fakefedi is a fake Mastodon-API server that replays a corpus of
// real Fediverse posts mentioning CVE IDs. It exists so that the pollers,
// parsers and rankers of cvecrowd can be tested end to end without network
// access, and so that developers can run the whole pipeline locally against
// something that behaves like a real Mastodon 4.6 instance.
//
// The fake behaves like ONE instance (Options.Domain). Every corpus post gets
// a local, time-ordered snowflake id exactly like a post federated into a
// real server would; the post keeps its own uri, url and account. All
// created_at values are shifted by one common offset so that the newest post
// is "now" at construction, which keeps the replay inside the time windows a
// poller cares about.
//
// The shapes of the answers (Link headers, X-RateLimit-* headers, error
// bodies, paging semantics of max_id / since_id / min_id, limit clamping) are
// modelled on recordings of a real Mastodon 4.6.4 server and on Mastodon's own
// controller code, because a poller that only works against an idealised fake
// is worthless. Where the fake deliberately differs from Mastodon, the
// difference is documented at the place it happens.
//
// Tests can change the instance while it runs (Add, AddAt, Edit, Delete,
// Boost, SetCounts), queue faults (InjectFaults) and observe what the client
// did (Requests, MaxConcurrent).
//
// Served endpoints (GET and HEAD only; every other method gets 405):
//
//	/api/v1/timelines/public
//	/api/v1/timelines/tag/:hashtag
//	/api/v1/statuses/:id
//	/api/v2/instance
//	/api/v2/search
//	/api/v1/streaming/health
//	/api/v1/streaming?stream=public (WebSocket; hashtags via subscribe messages)
//	/api/v1/streaming/public, /api/v1/streaming/hashtag?tag= (Server-Sent Events)
//
// The streams carry update, status.update and delete events for Add, Boost,
// Edit and Delete, with heartbeats; SetStream scripts their faults (a token
// requirement, no WebSocket, a drop every N events, a stall, malformed
// frames).
package fakefedi
