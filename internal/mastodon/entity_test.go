package mastodon

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDocsStatusEntity(t *testing.T) {
	raw := readDoc(t, "status-entity-example.json")
	st, err := ParseStatus(raw)
	if err != nil {
		t.Fatal(err)
	}
	if st.ID != "103270115826048975" || st.URI != "https://mastodon.social/users/Gargron/statuses/103270115826048975" ||
		st.URL != "https://mastodon.social/@Gargron/103270115826048975" || st.Language != "en" || st.Visibility != "public" ||
		st.RepliesCount != 5 || st.ReblogsCount != 6 || st.FavouritesCount != 11 || st.Reblog != nil || st.EditedAt != nil ||
		!strings.HasPrefix(st.Content, "<p>&quot;I lost my inheritance") || len(st.Tags) != 0 {
		t.Errorf("status = %+v", st)
	}
	if !st.CreatedAt.Equal(time.Date(2019, 12, 8, 3, 48, 33, 901e6, time.UTC)) {
		t.Errorf("created_at = %v", st.CreatedAt)
	}
	a := st.Account
	// The docs example predates noindex/indexable: they must stay nil ("not said").
	if a.ID != "1" || a.Username != "Gargron" || a.Acct != "Gargron" || a.DisplayName != "Eugen" ||
		a.URL != "https://mastodon.social/@Gargron" || a.Bot || a.Group ||
		a.Discoverable == nil || !*a.Discoverable || a.Noindex != nil || a.Indexable != nil ||
		!strings.HasPrefix(a.Avatar, "https://files.mastodon.social/accounts/avatars/") || !strings.HasPrefix(a.Note, "<p>Developer of Mastodon") {
		t.Errorf("account = %+v", a)
	}
	// json.Unmarshal goes through the same rules.
	var viaJSON Status
	if err := json.Unmarshal(raw, &viaJSON); err != nil || viaJSON.ID != st.ID || string(viaJSON.Raw) != string(st.Raw) {
		t.Errorf("json.Unmarshal: %v %+v", err, viaJSON.ID)
	}
}

func TestStatusMarshalRoundTrip(t *testing.T) {
	st, err := ParseStatus(readDoc(t, "status-entity-example.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "Raw") || strings.Contains(string(b), "card") {
		t.Errorf("Raw was serialised: %s", b)
	}
	var back Status
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back.Raw, st.Raw = nil, nil
	b2, _ := json.Marshal(back)
	if string(b) != string(b2) {
		t.Errorf("round trip differs:\n%s\n%s", b, b2)
	}
}

func TestParseStatusVariants(t *testing.T) {
	const acc = `"account":{"id":"1","acct":"a@b.example"}`
	base := func(fields string) string {
		return `{"id":"117020593378945190","uri":"https://b.example/s/1","created_at":"2026-08-01T13:55:50.338Z",` + acc + fields + `}`
	}
	tests := []struct {
		name    string
		in      string
		wantErr string
		check   func(t *testing.T, s *Status)
	}{
		{name: "minimal", in: base(""), check: func(t *testing.T, s *Status) {
			if s.ID != "117020593378945190" || s.Language != "" || s.EditedAt != nil || s.Reblog != nil || s.Tags != nil {
				t.Errorf("%+v", s)
			}
		}},
		{name: "numeric id beyond 2^53 keeps its literal text",
			in: `{"id":117020593378945191,"uri":"u","created_at":"2026-08-01T13:55:50Z","account":{"id":42}}`,
			check: func(t *testing.T, s *Status) {
				if s.ID != "117020593378945191" || s.Account.ID != "42" {
					t.Errorf("ids %q %q", s.ID, s.Account.ID)
				}
			}},
		{name: "created_at without milliseconds", in: strings.Replace(base(""), ".338Z", "Z", 1), check: func(t *testing.T, s *Status) {
			if !s.CreatedAt.Equal(time.Date(2026, 8, 1, 13, 55, 50, 0, time.UTC)) {
				t.Error(s.CreatedAt)
			}
		}},
		{name: "created_at with offset", in: strings.Replace(base(""), "13:55:50.338Z", "15:55:50.338+02:00", 1), check: func(t *testing.T, s *Status) {
			if !s.CreatedAt.Equal(time.Date(2026, 8, 1, 13, 55, 50, 338e6, time.UTC)) || s.CreatedAt.Location() != time.UTC {
				t.Error(s.CreatedAt)
			}
		}},
		{name: "created_at offset without colon (+0000)", in: strings.Replace(base(""), ".338Z", ".338+0000", 1)},
		{name: "created_at microseconds no zone", in: strings.Replace(base(""), ".338Z", ".477696", 1)},
		{name: "missing created_at", in: `{"id":"1","uri":"u",` + acc + `}`, wantErr: "missing created_at"},
		{name: "null created_at", in: `{"id":"1","uri":"u","created_at":null,` + acc + `}`, wantErr: "missing created_at"},
		{name: "numeric created_at", in: `{"id":"1","uri":"u","created_at":1722520550,` + acc + `}`, wantErr: "created_at is a JSON number"},
		{name: "garbage created_at", in: strings.Replace(base(""), "2026-08-01T13:55:50.338Z", "yesterday", 1), wantErr: `unrecognised timestamp "yesterday"`},
		{name: "uri falls back to url", in: `{"id":"1","uri":"","url":"https://c.example/@x/1","created_at":"2026-08-01T13:55:50Z",` + acc + `}`,
			check: func(t *testing.T, s *Status) {
				if s.URI != "https://c.example/@x/1" {
					t.Error(s.URI)
				}
			}},
		{name: "no uri no url", in: `{"id":"1","created_at":"2026-08-01T13:55:50Z",` + acc + `}`, wantErr: "missing uri and url"},
		{name: "missing account", in: `{"id":"1","uri":"u","created_at":"2026-08-01T13:55:50Z"}`, wantErr: "missing account"},
		{name: "null account", in: `{"id":"1","uri":"u","created_at":"2026-08-01T13:55:50Z","account":null}`, wantErr: "missing account"},
		{name: "account is a string", in: `{"id":"1","uri":"u","created_at":"2026-08-01T13:55:50Z","account":"x"}`, wantErr: "account is a JSON string"},
		{name: "empty account", in: `{"id":"1","uri":"u","created_at":"2026-08-01T13:55:50Z","account":{}}`, wantErr: "account has no id, acct or url"},
		{name: "missing id", in: `{"uri":"u","created_at":"2026-08-01T13:55:50Z",` + acc + `}`, wantErr: "status id: missing"},
		{name: "empty id", in: `{"id":"","uri":"u","created_at":"2026-08-01T13:55:50Z",` + acc + `}`, wantErr: "status id: empty"},
		{name: "object id", in: `{"id":{},"uri":"u","created_at":"2026-08-01T13:55:50Z",` + acc + `}`, wantErr: "status id: is a JSON object"},
		{name: "not an object", in: `42`, wantErr: "status is a JSON number, not an object"},
		{name: "null item", in: `null`, wantErr: "status is a JSON null"},
		{name: "nulls for optional fields", in: base(`,"language":null,"edited_at":null,"content":null,"reblog":null,"tags":null,"visibility":null,` +
			`"reblogs_count":null,"account":{"id":"1","discoverable":null,"noindex":null,"indexable":null,"bot":null,"display_name":null}`),
			check: func(t *testing.T, s *Status) {
				a := s.Account
				if s.Language != "" || s.EditedAt != nil || a.Discoverable != nil || a.Noindex != nil || a.Indexable != nil || a.Bot {
					t.Errorf("%+v %+v", s, a)
				}
			}},
		{name: "odd types in optional fields are dropped, not fatal",
			in: base(`,"language":5,"content":{"x":1},"reblogs_count":"12","favourites_count":3.0,"replies_count":true,"tags":"cve",` +
				`"edited_at":"not a time","account":{"id":"1","bot":"true","group":1,"discoverable":"false","noindex":"maybe","note":[]}`),
			check: func(t *testing.T, s *Status) {
				a := s.Account
				if s.Language != "" || s.Content != "" || s.ReblogsCount != 12 || s.FavouritesCount != 3 || s.RepliesCount != 0 ||
					s.Tags != nil || s.EditedAt != nil || !a.Bot || a.Group || a.Discoverable == nil || *a.Discoverable || a.Noindex != nil {
					t.Errorf("%+v %+v", s, a)
				}
			}},
		{name: "unknown fields ignored", in: base(`,"quote_approval":{"automatic":[]},"x-new":[1,2,{"a":null}],"emoji_reactions":[]`)},
		{name: "edited_at parsed", in: base(`,"edited_at":"2026-08-01T13:54:00.695Z"`), check: func(t *testing.T, s *Status) {
			if s.EditedAt == nil || !s.EditedAt.Equal(time.Date(2026, 8, 1, 13, 54, 0, 695e6, time.UTC)) {
				t.Error(s.EditedAt)
			}
		}},
		{name: "tags mixed", in: base(`,"tags":[{"name":"cve","url":"https://b.example/tags/cve"},{"url":"x"},7,"infosec",null]`),
			check: func(t *testing.T, s *Status) {
				if len(s.Tags) != 2 || s.Tags[0] != (Tag{"cve", "https://b.example/tags/cve"}) || s.Tags[1] != (Tag{Name: "infosec"}) {
					t.Errorf("%+v", s.Tags)
				}
			}},
		{name: "huge counts are clamped", in: base(`,"reblogs_count":1e300,"favourites_count":-1`), check: func(t *testing.T, s *Status) {
			if s.ReblogsCount <= 0 || s.FavouritesCount != -1 {
				t.Error(s.ReblogsCount, s.FavouritesCount)
			}
		}},
		{name: "malformed reblog makes the wrapper malformed", in: base(`,"reblog":{"id":"2"}`), wantErr: "reblog: status 2: missing uri and url"},
		{name: "reblog of a reblog is dropped", in: base(`,"reblog":` + strings.Replace(base(`,"reblog":`+base("")), `"id":"117020593378945190"`, `"id":"5"`, 1)),
			check: func(t *testing.T, s *Status) {
				if s.Reblog == nil || s.Reblog.ID != "5" || s.Reblog.Reblog != nil {
					t.Errorf("%+v", s.Reblog)
				}
			}},
		{name: "whitespace around", in: "\n\t " + base("") + " \n"},
		{name: "long created_at value is truncated in the error", in: strings.Replace(base(""), "2026-08-01T13:55:50.338Z", strings.Repeat("z", 5000), 1),
			wantErr: "unrecognised timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseStatus([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if len(err.Error()) > 200 {
					t.Errorf("error too long (%d bytes)", len(err.Error()))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

func TestAccountUnmarshalJSON(t *testing.T) {
	var a Account
	if err := json.Unmarshal([]byte(`{"id":"7","acct":"x@y","discoverable":true,"noindex":false}`), &a); err != nil {
		t.Fatal(err)
	}
	if a.ID != "7" || a.Acct != "x@y" || a.Discoverable == nil || !*a.Discoverable || a.Noindex == nil || *a.Noindex || a.Indexable != nil {
		t.Errorf("%+v", a)
	}
	if err := json.Unmarshal([]byte(`[]`), &a); err == nil {
		t.Error("array accepted as account")
	}
}

// FuzzParseStatus checks that no input panics, and that an accepted status
// satisfies the documented invariants.
func FuzzParseStatus(f *testing.F) {
	f.Add(string(readDoc(f, "status-entity-example.json")))
	f.Add(loadCassette(f, "test_status_reblog_unreblog").Interactions[0].Response.Body)
	f.Add(`{"id":1,"url":"u","created_at":"2026-08-01T13:55:50+0000","account":{"acct":"a"},"reblog":{"id":"2","uri":"v","created_at":"2026-08-01 13:55:50","account":{"url":"x"}}}`)
	f.Add(`[42, null, "x"]`)
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseStatus([]byte(in))
		if err != nil {
			return
		}
		for st := s; st != nil; st = st.Reblog {
			if st.ID == "" || st.URI == "" || st.CreatedAt.IsZero() && !strings.Contains(in, "0001-01-01") ||
				(st.Account.ID == "" && st.Account.Acct == "" && st.Account.URL == "") || !json.Valid(st.Raw) {
				t.Fatalf("accepted an invalid status: %+v", st)
			}
		}
	})
}
