package fakefedi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// timeLayout is how Mastodon serialises timestamps: UTC, milliseconds, "Z".
const timeLayout = "2006-01-02T15:04:05.000Z"

// defaultUsername names the local account used when a test adds a post or a
// boost without an account.
const defaultUsername = "fakefedi"

// statusKeys is the key order of a Mastodon 4.6 Status as an anonymous
// client sees it (taken from the recorded timelines; the viewer-specific
// favourited/reblogged/muted/bookmarked/pinned/filtered keys are only sent
// to logged-in users and are left out). Keys a post carries beyond these are
// appended in the post's own order.
var statusKeys = []string{
	"id", "created_at", "in_reply_to_id", "in_reply_to_account_id", "sensitive",
	"spoiler_text", "visibility", "language", "uri", "url", "replies_count",
	"reblogs_count", "favourites_count", "quotes_count", "edited_at", "content",
	"reblog", "account", "media_attachments", "mentions", "tags", "emojis",
	"quote", "card", "poll",
}

var knownStatusKey = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range statusKeys {
		m[k] = true
	}
	return m
}()

// statusDefaults are served when a post does not carry the key itself. The
// corpus has none of these (its source stored a subset of the Status), and
// a real server always sends them; language is null because nobody recorded
// it and guessing would mislead language filters.
var statusDefaults = map[string]string{
	"in_reply_to_id":         "null",
	"in_reply_to_account_id": "null",
	"sensitive":              "false",
	"spoiler_text":           `""`,
	"language":               "null",
	"quotes_count":           "0",
	"media_attachments":      "[]",
	"mentions":               "[]",
	"emojis":                 "[]",
	"quote":                  "null",
	"card":                   "null",
	"poll":                   "null",
}

// writeStatus appends the JSON of st to b. Callers hold s.mu (read).
func (s *Server) writeStatus(b *bytes.Buffer, st *status) {
	b.WriteByte('{')
	first := true
	put := func(key string, val []byte) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.Write(jsonString(key))
		b.WriteByte(':')
		b.Write(val)
	}
	for _, k := range statusKeys {
		switch k {
		case "id":
			put(k, jsonString(st.idStr))
		case "created_at":
			put(k, jsonString(formatTime(st.createdAt)))
		case "visibility":
			put(k, jsonString(st.visibility))
		case "uri":
			put(k, jsonString(st.uri))
		case "url":
			// Mastodon serves url || uri for remote statuses.
			u := st.url
			if u == "" {
				u = st.uri
			}
			put(k, jsonString(u))
		case "replies_count":
			put(k, []byte(strconv.Itoa(st.replies)))
		case "reblogs_count":
			put(k, []byte(strconv.Itoa(st.reblogs+st.boosts)))
		case "favourites_count":
			put(k, []byte(strconv.Itoa(st.favourites)))
		case "edited_at":
			if st.editedAt.IsZero() {
				put(k, []byte("null"))
			} else {
				put(k, jsonString(formatTime(st.editedAt)))
			}
		case "content":
			put(k, jsonString(st.content))
		case "reblog":
			if st.reblogOf == nil {
				put(k, []byte("null"))
			} else {
				var inner bytes.Buffer
				s.writeStatus(&inner, st.reblogOf)
				put(k, inner.Bytes())
			}
		case "account":
			put(k, st.account)
		case "tags":
			put(k, s.tagsJSON(st.allTags()))
		default:
			if v, ok := st.raw[k]; ok {
				put(k, v)
			} else {
				put(k, []byte(statusDefaults[k]))
			}
		}
	}
	for _, f := range st.fields {
		if !knownStatusKey[f.key] {
			put(f.key, f.val)
		}
	}
	b.WriteByte('}')
}

// tagsJSON renders Status.tags: name and the tag's URL on this instance.
func (s *Server) tagsJSON(names []string) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":%s,"url":%s}`, jsonString(n), jsonString(s.tagURL(n)))
	}
	b.WriteByte(']')
	return b.Bytes()
}

func (s *Server) tagURL(name string) string {
	return "https://" + s.opts.Domain + "/tags/" + url.PathEscape(name)
}

// accountDefaults fills in purely cosmetic Account keys a real server always
// sends but the corpus dropped. Keys that carry meaning for ranking or
// consent (bot, discoverable, indexable, noindex, followers_count, ...) are
// deliberately NOT invented: a missing value must stay visibly missing.
var accountDefaults = []struct{ key, val string }{
	{"display_name", `""`},
	{"locked", "false"},
	{"note", `""`},
	{"avatar", `"https://{d}/avatars/original/missing.png"`},
	{"avatar_static", `"https://{d}/avatars/original/missing.png"`},
	{"header", `"https://{d}/headers/original/missing.png"`},
	{"header_static", `"https://{d}/headers/original/missing.png"`},
	{"emojis", "[]"},
	{"fields", "[]"},
}

// renderAccount returns the compact Account JSON served for raw (nil or
// null: the local default account) and the account's username.
func (s *Server) renderAccount(raw json.RawMessage) ([]byte, string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage(fmt.Sprintf(
			`{"id":"1","username":%[1]s,"acct":%[1]s,"display_name":%[1]s,"bot":true,"group":false,"url":%[2]s,"followers_count":0,"following_count":0,"statuses_count":0}`,
			jsonString(defaultUsername), jsonString("https://"+s.opts.Domain+"/@"+defaultUsername)))
	}
	fields, err := objectFields(raw)
	if err != nil {
		return nil, "", err
	}
	idx := indexFields(fields)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(jsonString(f.key))
		b.WriteByte(':')
		b.Write(f.val)
	}
	domain := string(bytes.Trim(jsonString(s.opts.Domain), `"`))
	for _, d := range accountDefaults {
		if _, ok := idx[d.key]; ok {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.Write(jsonString(d.key))
		b.WriteByte(':')
		b.Write(bytes.ReplaceAll([]byte(d.val), []byte("{d}"), []byte(domain)))
	}
	b.WriteByte('}')
	return b.Bytes(), usernameOf(raw), nil
}

// jsonString encodes s as a JSON string without HTML escaping: Mastodon
// sends "<p>" literally, not "\u003cp\u003e", and byte-level fidelity of
// content matters to tests that compare it with the corpus.
func jsonString(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }
