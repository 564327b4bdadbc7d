package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/cvecrowd/cvecrowd/api"
	"github.com/cvecrowd/cvecrowd/internal/trend"
)

var (
	specOnce   sync.Once
	specDoc    *openapi3.T
	specRouter routers.Router
	specErr    error
)

// spec loads api/openapi.yaml once, checks it is a valid OpenAPI 3.0 document
// and builds a router over it.
func spec(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	specOnce.Do(func() {
		openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
		loader := openapi3.NewLoader()
		specDoc, specErr = loader.LoadFromData(api.OpenAPI)
		if specErr != nil {
			return
		}
		if specErr = specDoc.Validate(context.Background()); specErr != nil {
			return
		}
		specRouter, specErr = legacy.NewRouter(specDoc)
	})
	if specErr != nil {
		t.Fatalf("api/openapi.yaml: %v", specErr)
	}
	return specDoc, specRouter
}

// validated wraps h so that every answer it gives in a test is checked
// against the OpenAPI document: status documented, headers, body schema.
// Answers to requests the document has no operation for (unknown routes,
// wrong methods) must still be a documented error body.
func validated(t testing.TB, h http.Handler) http.Handler {
	doc, router := spec(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		res := rec.Result()
		body := rec.Body.Bytes()
		if err := checkContract(doc, router, r, res.StatusCode, res.Header, body); err != nil {
			t.Errorf("contract: %s %s → %d: %v\nbody: %.300s", r.Method, r.URL, res.StatusCode, err, body)
		}
		for k, vs := range res.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(res.StatusCode)
		w.Write(body)
	})
}

func checkContract(doc *openapi3.T, router routers.Router, r *http.Request, status int, h http.Header, body []byte) error {
	find := r
	if r.Method == http.MethodHead {
		// HEAD is served wherever GET is; the validator skips its (empty) body.
		find = r.Clone(r.Context())
		find.Method = http.MethodGet
	}
	route, params, err := router.FindRoute(find)
	if err != nil {
		if !errors.Is(err, routers.ErrPathNotFound) && !errors.Is(err, routers.ErrMethodNotAllowed) &&
			!strings.Contains(err.Error(), routers.ErrPathNotFound.Error()) && !strings.Contains(err.Error(), routers.ErrMethodNotAllowed.Error()) {
			return err
		}
		if strings.HasPrefix(r.URL.Path, "/api/docs/") && status == http.StatusOK {
			return nil // the docs page's static files, which the document leaves out on purpose
		}
		// No operation: the answer must be one of the documented errors.
		if !slices.Contains([]int{400, 401, 404, 405, 429, 431}, status) {
			return errors.New("a request outside the document answered a status that is no error")
		}
		return checkErrorBody(doc, h, body)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: r, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: status,
		Header: h,
		Body:   ioNopCloser(body),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return err
	}
	if status >= 400 {
		return checkErrorBody(doc, h, body)
	}
	return nil
}

func checkErrorBody(doc *openapi3.T, h http.Header, body []byte) error {
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return errors.New("error answer is not JSON: " + ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	return doc.Components.Schemas["Error"].Value.VisitJSON(v)
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func ioNopCloser(b []byte) nopCloser { return nopCloser{bytes.NewReader(b)} }

// TestRoutesMatchSpec fails when the API serves a route the document lacks,
// or the document describes one the API does not serve.
func TestRoutesMatchSpec(t *testing.T) {
	doc, _ := spec(t)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	served := New(nil, nil, nil).Routes()
	slices.Sort(documented)
	slices.Sort(served)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("route %q is served but api/openapi.yaml does not describe it", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("api/openapi.yaml describes %q but the API does not serve it", r)
		}
	}
	if len(served) < 8 {
		t.Fatalf("only %d routes served: %v", len(served), served)
	}
}

// TestSpecExamples checks that the document's own examples obey its schemas,
// so what a reader copies from the docs is right.
func TestSpecExamples(t *testing.T) {
	doc, _ := spec(t)
	for _, name := range []string{"CVE", "Post", "CVEID"} {
		s := doc.Components.Schemas[name].Value
		if s.Example == nil {
			t.Errorf("schema %s has no example", name)
			continue
		}
		if err := s.VisitJSON(roundTrip(t, s.Example)); err != nil {
			t.Errorf("example of %s: %v", name, err)
		}
	}
	for name, r := range doc.Components.Responses {
		for ct, mt := range r.Value.Content {
			if mt.Example != nil && mt.Schema != nil {
				if err := mt.Schema.Value.VisitJSON(roundTrip(t, mt.Example)); err != nil {
					t.Errorf("example of response %s (%s): %v", name, ct, err)
				}
			}
		}
	}
}

func roundTrip(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSpecKeysMatchJSON holds the document to what json.go emits: every
// documented key is emitted, required, with the documented nullability. (The
// schemas allow extra keys, so fields added later break neither older
// clients nor this test.)
func TestSpecKeysMatchJSON(t *testing.T) {
	doc, _ := spec(t)
	for _, tt := range []struct {
		schema string
		value  any
	}{
		{"CVE", NewCVE(trend.CVE{})},
		{"Post", NewPost(trend.Post{})},
		{"Account", NewPost(trend.Post{}).Account},
	} {
		t.Run(tt.schema, func(t *testing.T) {
			s := doc.Components.Schemas[tt.schema].Value
			var emitted map[string]any
			json.Unmarshal(must(json.Marshal(tt.value)), &emitted)
			for key := range emitted {
				p, ok := s.Properties[key]
				if !ok {
					// Allowed (additionalProperties), so a new field never
					// breaks the build; it should still be documented.
					t.Logf("json.go emits %q, which api/openapi.yaml does not describe yet", key)
					continue
				}
				if !slices.Contains(s.Required, key) {
					t.Errorf("%q is always emitted but not required in the document", key)
				}
				if emitted[key] == nil && !p.Value.Nullable {
					t.Errorf("%q can be null but is not nullable in the document", key)
				}
			}
			for key := range s.Properties {
				if _, ok := emitted[key]; !ok {
					t.Errorf("the document describes %q, which json.go does not emit", key)
				}
			}
		})
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
