package fakefedi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cvecrowd/cvecrowd/internal/fakefedi"
)

func TestLoadCorpus(t *testing.T) {
	posts := loadCorpus(t)
	if len(posts) != 57 {
		t.Fatalf("corpus has %d posts, want 57", len(posts))
	}
	for i, p := range posts {
		if p.URI == "" || p.CreatedAt.IsZero() || len(p.Raw) == 0 {
			t.Errorf("post %d incomplete: %+v", i, p)
		}
	}

	const ok = `{"uri":"https://a.example/1","created_at":"2025-01-01T00:00:00Z","content":"x"}`
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr string
	}{
		{"empty", "", 0, ""},
		{"blank lines skipped", "\n\n" + ok + "\n   \n\n", 1, ""},
		{"no final newline", ok + "\n" + strings.Replace(ok, "/1", "/2", 1), 2, ""},
		{"bad JSON names line", ok + "\n\n{\"uri\": oops}\n", 0, "line 3"},
		{"not an object", "[1,2]\n", 0, "line 1: not a JSON object"},
		{"trailing data", ok + " {}\n", 0, "line 1: bad JSON: data after the object"},
		{"no uri", `{"created_at":"2025-01-01T00:00:00Z"}`, 0, `line 1: status has no "uri"`},
		{"bad created_at", `{"uri":"u","created_at":"yesterday"}`, 0, `line 1: status u: bad "created_at"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fakefedi.LoadCorpus(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Fatalf("got %d posts, want %d", len(got), tt.want)
			}
		})
	}
}

func TestNewRejectsDuplicateURIs(t *testing.T) {
	posts := loadCorpus(t)
	if _, err := fakefedi.New(append(posts[:2:2], posts[0]), fakefedi.Options{}); err == nil {
		t.Fatal("New accepted a duplicate uri")
	}
}

// TestPagingNextWalk follows rel="next" from the top of the public timeline
// as a backfilling poller would.
func TestPagingNextWalk(t *testing.T) {
	_, ts := newServer(t, fakefedi.Options{})
	total := len(loadCorpus(t))
	tests := []struct {
		limit    string // "" = no limit param
		pageSize int
	}{
		{"10", 10}, {"7", 7}, {"40", 40}, {"", 20}, {"1", 1},
	}
	for _, tt := range tests {
		t.Run("limit="+tt.limit, func(t *testing.T) {
			next := "/api/v1/timelines/public"
			if tt.limit != "" {
				next += "?limit=" + tt.limit
			}
			seen := map[string]bool{}
			var last uint64
			for pages := 0; ; pages++ {
				if pages > total+2 {
					t.Fatal("walk does not end")
				}
				page, resp := getStatuses(t, ts, next)
				link := resp.Header.Get("Link")
				if len(page) == 0 {
					if link != "" {
						t.Errorf("empty page has Link %q", link)
					}
					break
				}
				if len(page) > tt.pageSize {
					t.Fatalf("page of %d, want at most %d", len(page), tt.pageSize)
				}
				for _, st := range page {
					if seen[st.URI] {
						t.Fatalf("%s served twice", st.URI)
					}
					seen[st.URI] = true
					if id := st.idNum(t); last != 0 && id >= last {
						t.Fatalf("ids not strictly decreasing: %d after %d", id, last)
					} else {
						last = id
					}
				}
				l := links(link)
				wantNext := fmt.Sprintf("%s/api/v1/timelines/public?max_id=%s", ts.URL, page[len(page)-1].ID)
				wantPrev := fmt.Sprintf("%s/api/v1/timelines/public?min_id=%s", ts.URL, page[0].ID)
				if tt.limit != "" {
					wantNext = fmt.Sprintf("%s/api/v1/timelines/public?limit=%s&max_id=%s", ts.URL, tt.limit, page[len(page)-1].ID)
					wantPrev = fmt.Sprintf("%s/api/v1/timelines/public?limit=%s&min_id=%s", ts.URL, tt.limit, page[0].ID)
				}
				if want := fmt.Sprintf(`<%s>; rel="next", <%s>; rel="prev"`, wantNext, wantPrev); link != want {
					t.Fatalf("Link = %q\nwant   %q", link, want)
				}
				next = l["next"]
			}
			if len(seen) != total {
				t.Fatalf("walk visited %d statuses, want %d", len(seen), total)
			}
		})
	}
}

// TestPagingMinIDWalk walks forward in time with min_id, following
// rel="prev", as a poller catching up from a stored position does.
func TestPagingMinIDWalk(t *testing.T) {
	_, ts := newServer(t, fakefedi.Options{})
	all, _ := getStatuses(t, ts, "/api/v1/timelines/public?limit=40")
	more, _ := getStatuses(t, ts, "/api/v1/timelines/public?limit=40&max_id="+all[len(all)-1].ID)
	all = append(all, more...)
	oldest := all[len(all)-1].ID

	tests := []struct {
		name  string
		start string
		want  int
	}{
		{"from zero", "0", len(all)},
		{"from the oldest id", oldest, len(all) - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := "/api/v1/timelines/public?limit=10&min_id=" + tt.start
			seen := map[string]bool{}
			var newestSoFar uint64
			for pages := 0; ; pages++ {
				if pages > len(all)+2 {
					t.Fatal("walk does not end")
				}
				page, resp := getStatuses(t, ts, prev)
				if len(page) == 0 {
					if resp.Header.Get("Link") != "" {
						t.Error("empty page has a Link header")
					}
					break
				}
				// Newest first inside the page, and the whole page newer
				// than everything seen before.
				for i, st := range page {
					if i > 0 && st.idNum(t) >= page[i-1].idNum(t) {
						t.Fatalf("page not newest-first")
					}
					if st.idNum(t) <= newestSoFar {
						t.Fatalf("min_id page skipped back in time")
					}
					if seen[st.URI] {
						t.Fatalf("%s served twice", st.URI)
					}
					seen[st.URI] = true
				}
				newestSoFar = page[0].idNum(t)
				prev = links(resp.Header.Get("Link"))["prev"]
			}
			if len(seen) != tt.want {
				t.Fatalf("visited %d, want %d", len(seen), tt.want)
			}
		})
	}
}

func TestPagingParams(t *testing.T) {
	_, ts := newServer(t, fakefedi.Options{})
	// asc[i] is the id of the i-th oldest status.
	desc, _ := getStatuses(t, ts, "/api/v1/timelines/public?limit=40")
	more, _ := getStatuses(t, ts, "/api/v1/timelines/public?limit=40&max_id="+desc[len(desc)-1].ID)
	desc = append(desc, more...)
	asc := make([]string, len(desc))
	for i, st := range desc {
		asc[len(desc)-1-i] = st.ID
	}
	n := len(asc)

	tests := []struct {
		name  string
		query string
		want  []string // newest first
	}{
		{"since_id gives the newest page (gap below)", "limit=5&since_id=" + asc[20], []string{asc[n-1], asc[n-2], asc[n-3], asc[n-4], asc[n-5]}},
		{"min_id gives the page immediately above", "limit=5&min_id=" + asc[20], []string{asc[25], asc[24], asc[23], asc[22], asc[21]}},
		{"since_id near the top", "limit=5&since_id=" + asc[n-3], []string{asc[n-1], asc[n-2]}},
		{"since_id at the top", "since_id=" + asc[n-1], nil},
		{"min_id wins over since_id", "limit=2&since_id=" + asc[40] + "&min_id=" + asc[10], []string{asc[12], asc[11]}},
		{"max_id is exclusive", "limit=3&max_id=" + asc[30], []string{asc[29], asc[28], asc[27]}},
		{"max_id and since_id", "max_id=" + asc[30] + "&since_id=" + asc[28], []string{asc[29]}},
		{"max_id and min_id", "limit=10&max_id=" + asc[30] + "&min_id=" + asc[27], []string{asc[29], asc[28]}},
		{"max_id at the bottom", "max_id=" + asc[0], nil},
		{"non-numeric ids are ignored", "limit=1&max_id=abc&since_id=&min_id=x", []string{asc[n-1]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, resp := getStatuses(t, ts, "/api/v1/timelines/public?"+tt.query)
			var got []string
			for _, st := range page {
				got = append(got, st.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v\nwant %v", got, tt.want)
			}
			if (len(got) == 0) != (resp.Header.Get("Link") == "") {
				t.Fatalf("Link %q on a page of %d", resp.Header.Get("Link"), len(got))
			}
		})
	}
}

// TestLimitParam pins Mastodon's limit_param: [to_i.abs, 2*default].min,
// where Ruby's to_i reads leading digits and gives 0 for none.
func TestLimitParam(t *testing.T) {
	_, ts := newServer(t, fakefedi.Options{})
	tests := []struct {
		query string
		want  int
	}{
		{"", 20},
		{"limit=5", 5},
		{"limit=1000", 40},
		{"limit=-1", 1},
		{"limit=-50", 40},
		{"limit=abc", 0}, // "abc".to_i == 0: an empty page, as on a real server
		{"limit=", 0},
		{"limit=0", 0},
		{"limit=15abc", 15},
		{"limit=%207", 7},
		{"limit=1_0", 10},
		{"limit=3&limit=4", 4}, // Rails keeps the last value
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			page, _ := getStatuses(t, ts, "/api/v1/timelines/public?"+tt.query)
			if len(page) != tt.want {
				t.Fatalf("got %d statuses, want %d", len(page), tt.want)
			}
		})
	}
	// The Link header echoes the limit as given, like Rails' url_for.
	_, resp := getStatuses(t, ts, "/api/v1/timelines/public?limit=1000&local=0&foo=bar")
	if l := links(resp.Header.Get("Link"))["next"]; !strings.Contains(l, "?limit=1000&local=0&max_id=") {
		t.Fatalf("next link %q does not echo the permitted params", l)
	}
}

func TestTimeShift(t *testing.T) {
	posts := loadCorpus(t)
	tests := []struct {
		name    string
		now     time.Time
		wantTop time.Time
	}{
		{"whole second", testNow, testNow},
		{"sub-millisecond now is truncated", testNow.Add(123456789), testNow.Add(123 * time.Millisecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, ts := fakefedi.NewTestServer(t, posts, fakefedi.Options{Now: func() time.Time { return tt.now }})
			byURI := map[string]fakefedi.Post{}
			var newest time.Time
			for _, p := range posts {
				byURI[p.URI] = p
				if p.CreatedAt.After(newest) {
					newest = p.CreatedAt
				}
			}
			if got, want := srv.Offset(), tt.wantTop.Sub(newest); got != want {
				t.Fatalf("Offset = %v, want %v", got, want)
			}
			page, _ := getStatuses(t, ts, "/api/v1/timelines/public?limit=40")
			rest, _ := getStatuses(t, ts, "/api/v1/timelines/public?limit=40&max_id="+page[len(page)-1].ID)
			page = append(page, rest...)
			if got := page[0].created(t); !got.Equal(tt.wantTop) {
				t.Fatalf("newest created_at = %v, want %v", got, tt.wantTop)
			}
			for i, st := range page {
				c := st.created(t)
				if d := c.Sub(byURI[st.URI].CreatedAt); d != srv.Offset() {
					t.Errorf("%s shifted by %v, want %v", st.URI, d, srv.Offset())
				}
				if i > 0 && c.After(page[i-1].created(t)) {
					t.Errorf("order by id disagrees with created_at at %d", i)
				}
				// The id is a snowflake of the served time.
				if got := int64(st.idNum(t) >> 16); got != c.UnixMilli() {
					t.Errorf("id %s encodes %d ms, created_at is %d", st.ID, got, c.UnixMilli())
				}
			}
		})
	}
}

func TestTagTimeline(t *testing.T) {
	_, ts := newServer(t, fakefedi.Options{})
	tests := []struct {
		path string
		want int
		// tags each status must carry one of
		anyOf []string
	}{
		{"/api/v1/timelines/tag/cve", 1, []string{"cve"}},
		{"/api/v1/timelines/tag/CVE", 1, []string{"cve"}},
		{"/api/v1/timelines/tag/cve20234966", 2, []string{"cve20234966"}},
		{"/api/v1/timelines/tag/KEV?limit=4", 9, []string{"kev"}},
		{"/api/v1/timelines/tag/kev?limit=4&any[]=cve", 10, []string{"kev", "cve"}},
		{"/api/v1/timelines/tag/kev?all[]=cisa", 9, []string{"kev"}},
		{"/api/v1/timelines/tag/cisa?none[]=kev", 2, []string{"cisa"}},
		{"/api/v1/timelines/tag/nosuchtag", 0, nil},
		{"/api/v1/timelines/tag/kev?local=true", 0, nil}, // every corpus post is remote
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			next := tt.path
			seen := map[string]bool{}
			for i := 0; next != ""; i++ {
				if i > 20 {
					t.Fatal("walk does not end")
				}
				page, resp := getStatuses(t, ts, next)
				for _, st := range page {
					ok := false
					for _, tag := range tt.anyOf {
						ok = ok || st.hasTag(tag)
					}
					if !ok {
						t.Errorf("%s lacks tags %v: %+v", st.URI, tt.anyOf, st.Tags)
					}
					if seen[st.URI] {
						t.Fatalf("%s twice", st.URI)
					}
					seen[st.URI] = true
				}
				next = links(resp.Header.Get("Link"))["next"]
				if next != "" {
					u, _ := url.Parse(next)
					if !strings.HasPrefix(u.Path, "/api/v1/timelines/tag/") {
						t.Fatalf("next link %q leaves the tag timeline", next)
					}
				}
			}
			if len(seen) != tt.want {
				t.Fatalf("got %d statuses, want %d", len(seen), tt.want)
			}
		})
	}
}

func TestStatusByID(t *testing.T) {
	srv, ts := newServer(t, fakefedi.Options{})
	post := loadCorpus(t)[3]
	id, ok := srv.LocalID(post.URI)
	if !ok {
		t.Fatal("LocalID: unknown corpus uri")
	}
	tests := []struct {
		path     string
		wantCode int
	}{
		{"/api/v1/statuses/" + id, 200},
		{"/api/v1/statuses/" + id + "/", 200}, // Rails ignores the trailing slash
		{"/api/v1/statuses/1", 404},
		{"/api/v1/statuses/abc", 404},
		{"/api/v1/statuses/" + id + "0", 404},
		{"/api/v1/statuses", 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := get(t, ts, tt.path)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.wantCode == 404 {
				if string(body) != `{"error":"Record not found"}` {
					t.Errorf("404 body %s", body)
				}
				return
			}
			var st apiStatus
			if err := json.Unmarshal(body, &st); err != nil {
				t.Fatal(err)
			}
			if st.ID != id || st.URI != post.URI || st.Content != post.Content {
				t.Errorf("wrong status: %+v", st)
			}
		})
	}
}

// TestServedShape checks that every status looks like one from a real
// server: private corpus fields gone, the always-present fields there, and
// the post's own identity and text untouched.
func TestServedShape(t *testing.T) {
	srv, ts := newServer(t, fakefedi.Options{})
	byURI := map[string]fakefedi.Post{}
	for _, p := range loadCorpus(t) {
		byURI[p.URI] = p
	}
	var all []map[string]json.RawMessage
	for next := "/api/v1/timelines/public?limit=40"; next != ""; {
		resp, body := get(t, ts, next)
		var page []map[string]json.RawMessage
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		next = links(resp.Header.Get("Link"))["next"]
	}
	if len(all) != len(byURI) {
		t.Fatalf("served %d, corpus has %d", len(all), len(byURI))
	}
	wantNull := []string{"language", "edited_at", "reblog", "in_reply_to_id", "card", "poll"}
	wantKeys := []string{"id", "created_at", "uri", "url", "content", "visibility", "account",
		"reblogs_count", "favourites_count", "replies_count", "sensitive", "spoiler_text",
		"tags", "mentions", "media_attachments", "emojis"}
	for _, st := range all {
		var uri, content, id string
		_ = json.Unmarshal(st["uri"], &uri)
		_ = json.Unmarshal(st["content"], &content)
		_ = json.Unmarshal(st["id"], &id)
		for k := range st {
			if strings.HasPrefix(k, "_") {
				t.Errorf("%s: private field %s served", uri, k)
			}
		}
		for _, k := range append(wantKeys, wantNull...) {
			if _, ok := st[k]; !ok {
				t.Errorf("%s: no %q", uri, k)
			}
		}
		for _, k := range wantNull {
			if string(st[k]) != "null" {
				t.Errorf("%s: %s = %s, want null", uri, k, st[k])
			}
		}
		for _, k := range []string{"mentions", "media_attachments", "emojis"} {
			if string(st[k]) != "[]" {
				t.Errorf("%s: %s = %s, want []", uri, k, st[k])
			}
		}
		p, ok := byURI[uri]
		if !ok {
			t.Fatalf("served unknown uri %s", uri)
		}
		if content != p.Content {
			t.Errorf("%s: content changed", uri)
		}
		var orig struct {
			ID      string          `json:"id"`
			URL     string          `json:"url"`
			Account json.RawMessage `json:"account"`
		}
		_ = json.Unmarshal(p.Raw, &orig)
		if id == orig.ID {
			t.Errorf("%s: served the corpus id instead of a local one", uri)
		}
		if got, _ := srv.LocalID(uri); got != id {
			t.Errorf("LocalID(%s) = %s, served %s", uri, got, id)
		}
		var url string
		_ = json.Unmarshal(st["url"], &url)
		if url != orig.URL {
			t.Errorf("%s: url %s, corpus %s", uri, url, orig.URL)
		}
		// Account keys of the corpus are kept with their values.
		var a, b map[string]json.RawMessage
		_ = json.Unmarshal(orig.Account, &a)
		_ = json.Unmarshal(st["account"], &b)
		for k, v := range a {
			if string(b[k]) != compact(t, v) {
				t.Errorf("%s: account.%s = %s, corpus %s", uri, k, b[k], v)
			}
		}
	}
}

func compact(t *testing.T, v json.RawMessage) string {
	t.Helper()
	var m any
	if err := json.Unmarshal(v, &m); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestMethodsAndUnknownPaths(t *testing.T) {
	_, ts := newServer(t, fakefedi.Options{})
	tests := []struct {
		method, path string
		wantCode     int
		wantBody     string
	}{
		{http.MethodPost, "/api/v1/timelines/public", 405, `{"error":"Method Not Allowed"}`},
		{http.MethodPut, "/api/v2/instance", 405, `{"error":"Method Not Allowed"}`},
		{http.MethodDelete, "/api/v1/statuses/1", 405, `{"error":"Method Not Allowed"}`},
		{http.MethodPatch, "/api/v2/search", 405, `{"error":"Method Not Allowed"}`},
		{http.MethodHead, "/api/v1/timelines/public", 200, ""},
		{http.MethodGet, "/api/v1/nope", 404, `{"error":"Record not found"}`},
		{http.MethodPost, "/api/v1/nope", 404, `{"error":"Record not found"}`},
		{http.MethodGet, "/", 404, `{"error":"Record not found"}`},
		{http.MethodGet, "/api/v1/timelines/tag/", 404, `{"error":"Record not found"}`},
		{http.MethodGet, "/api/v1/timelines/tag/a/b", 404, `{"error":"Record not found"}`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, ts.URL+tt.path, nil)
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := readAll(t, resp)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantCode)
			}
			if tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("body %s, want %s", body, tt.wantBody)
			}
			if tt.wantCode == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
			if resp.Header.Get("X-RateLimit-Limit") == "" {
				t.Error("no rate-limit headers")
			}
		})
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
