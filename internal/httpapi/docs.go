package httpapi

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/cvecrowd/cvecrowd/api"
)

// publicRoutes serves the contract and its interactive page. They need no
// key: a newcomer reads them before having one.
func (a *API) publicRoutes() *http.ServeMux {
	mux := http.NewServeMux()
	a.handle(mux, "/api/openapi.yaml", func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Access-Control-Allow-Origin", "*") // a public document; lets other tools load it
		w.Write(api.OpenAPI)
		return nil
	})
	docs, _ := fs.Sub(api.Docs, "docs")
	a.handle(mux, "/api/docs", func(w http.ResponseWriter, r *http.Request) error {
		return serveDoc(w, docs, "index.html")
	})
	mux.Handle("GET /api/docs/{file}", a.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return serveDoc(w, docs, r.PathValue("file"))
	}))
	// People type the trailing slash; the page lives without it.
	mux.Handle("GET /api/docs/{$}", http.RedirectHandler("/api/docs", http.StatusMovedPermanently))
	mux.Handle("/api/docs/", a.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Detail: "no such documentation file: " + r.URL.Path}
	}))
	return mux
}

var docTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

func serveDoc(w http.ResponseWriter, docs fs.FS, name string) error {
	dot := strings.LastIndexByte(name, '.')
	ctype, ok := "", false
	if dot > 0 {
		ctype, ok = docTypes[name[dot:]]
	}
	b, err := fs.ReadFile(docs, name)
	if !ok || err != nil {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Detail: "no such documentation file: " + truncate(name, 60)}
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Security-Policy", api.DocsCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if name != "index.html" {
		h.Set("Cache-Control", "public, max-age=3600")
	}
	w.Write(b)
	return nil
}
