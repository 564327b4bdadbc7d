// Package api holds the API's contract, the OpenAPI 3.0.3 document that is its source of truth, and the
// vendored Swagger UI that renders it; both are embedded in the binary.
package api

import "embed"

// OpenAPI is the OpenAPI 3.0.3 document describing every route of the API.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Docs holds the interactive documentation page under "docs/": index.html, the
// init script, and Swagger UI's bundle and stylesheet (npm swagger-ui-dist,
// see docs/SOURCES.md).
//
//go:embed docs/index.html docs/init.js docs/swagger-ui-bundle.js docs/swagger-ui.css
var Docs embed.FS

// DocsCSP is the Content-Security-Policy of the documentation page: scripts
// and styles from this server only, requests only to this server. Swagger UI
// sets style attributes from JavaScript (hence 'unsafe-inline' for styles
// only, never for scripts) and draws its icons as data: SVG images.
const DocsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
