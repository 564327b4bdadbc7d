package fakefedi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
	"unicode"
)

// Post is one status of a corpus, as read from a JSONL line. Only the fields
// the fake needs to place the post are parsed; everything else stays in Raw
// and is served (minus private "_" fields) as it was recorded.
type Post struct {
	// URI is the ActivityPub id of the status; it is the post's identity
	// inside the fake (Edit, Delete, Boost and SetCounts take it).
	URI string
	// URL is the human-facing link of the status (may be empty).
	URL string
	// CreatedAt is the corpus time, before the fake's time shift.
	CreatedAt time.Time
	// Content is the HTML (or, for some old corpus posts, markdown) body.
	Content string
	// Raw is the complete JSON object of the line, private fields included.
	Raw json.RawMessage
}

// LoadCorpus parses a JSONL corpus: one JSON object per line, blank lines
// skipped. Every object needs a non-empty "uri" and an RFC 3339 "created_at".
// Errors name the 1-based line number, because a hand-edited corpus is the
// usual source of them.
func LoadCorpus(r io.Reader) ([]Post, error) {
	// bufio.Reader rather than bufio.Scanner: a single status can exceed
	// Scanner's default 64 KiB token limit (long content, big accounts).
	br := bufio.NewReader(r)
	var posts []Post
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			p, perr := ParsePost(b)
			if perr != nil {
				return nil, fmt.Errorf("fakefedi: corpus line %d: %w", line, perr)
			}
			posts = append(posts, p)
		}
		if errors.Is(err, io.EOF) {
			return posts, nil
		}
		if err != nil {
			return nil, fmt.Errorf("fakefedi: corpus line %d: %w", line, err)
		}
	}
}

// LoadCorpusFile is LoadCorpus on a file path.
func LoadCorpusFile(path string) ([]Post, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fakefedi: %w", err)
	}
	defer f.Close()
	posts, err := LoadCorpus(f)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return posts, nil
}

// ParsePost parses one corpus object. It is strict (uri and created_at are
// required) because a corpus post without them cannot be placed on a
// timeline; Server.Add is the lenient variant for posts made up by tests.
func ParsePost(raw []byte) (Post, error) {
	raw = bytes.TrimSpace(raw)
	if _, err := objectFields(raw); err != nil {
		return Post{}, err
	}
	var head struct {
		URI       string `json:"uri"`
		URL       string `json:"url"`
		CreatedAt string `json:"created_at"`
		Content   string `json:"content"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return Post{}, fmt.Errorf("bad status object: %w", err)
	}
	if head.URI == "" {
		return Post{}, errors.New(`status has no "uri"`)
	}
	t, err := time.Parse(time.RFC3339Nano, head.CreatedAt)
	if err != nil {
		return Post{}, fmt.Errorf(`status %s: bad "created_at": %w`, head.URI, err)
	}
	return Post{
		URI:       head.URI,
		URL:       head.URL,
		CreatedAt: t,
		Content:   head.Content,
		Raw:       json.RawMessage(append([]byte(nil), raw...)),
	}, nil
}

// field is one top-level key of a JSON object, kept in document order so
// that served statuses keep the corpus' key order for keys the fake does not
// know about.
type field struct {
	key string
	val json.RawMessage
}

// objectFields splits a JSON object into its top-level fields, in order. A
// repeated key keeps its last value (as encoding/json would) but its first
// position.
func objectFields(raw []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	var fields []field
	index := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("bad JSON: %w", err)
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("bad JSON at key %q: %w", key, err)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, v); err != nil {
			return nil, fmt.Errorf("bad JSON at key %q: %w", key, err)
		}
		if i, dup := index[key]; dup {
			fields[i].val = c.Bytes()
			continue
		}
		index[key] = len(fields)
		fields = append(fields, field{key: key, val: c.Bytes()})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("bad JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("bad JSON: data after the object")
	}
	return fields, nil
}

// tagLinkRE finds hashtag links. Mastodon-family servers render a hashtag as
// a link to https://<host>/tags/<name>; the 2023 part of the corpus is
// markdown (html2text output), where the same URL sits inside "(...)". The
// path must start right after the host so that e.g. a GitHub
// ".../releases/tags/v1.2" link is not mistaken for a hashtag. Bridged
// Bluesky posts link hashtags to bsky.app/search and therefore carry no tags,
// exactly as they would on a real server that only reads the HTML.
var tagLinkRE = regexp.MustCompile(`https?://[^/\s"'<>()\[\]]+/tags/([^\s"'<>()\[\]?#&/]+)`)

// deriveTags returns the lower-cased hashtag names linked from content, in
// order of first appearance, without duplicates.
func deriveTags(content string) []string {
	var tags []string
	seen := map[string]bool{}
	for _, m := range tagLinkRE.FindAllStringSubmatch(content, -1) {
		name, err := url.PathUnescape(m[1])
		if err != nil {
			name = m[1]
		}
		name = strings.ToLower(name)
		if !validTagName(name) || seen[name] {
			continue
		}
		seen[name] = true
		tags = append(tags, name)
	}
	return tags
}

// validTagName accepts what Mastodon's hashtag pattern accepts: letters,
// digits, marks, "_" and the middle dot; anything else in a /tags/ path is
// not a hashtag the server would have created.
func validTagName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) && r != '_' && r != '·' {
			return false
		}
	}
	return true
}
