package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cvecrowd/cvecrowd/internal/apikey"
	"github.com/cvecrowd/cvecrowd/internal/password"
	"github.com/cvecrowd/cvecrowd/internal/store"
)

// Accounts is what the developer portal needs of the database.
type Accounts interface {
	CreateUser(ctx context.Context, email, passwordHash string) (store.User, error)
	UserByEmail(ctx context.Context, email string) (store.User, error)
	CreateSession(ctx context.Context, userID int64, tokenHash string, expires time.Time) error
	SessionUser(ctx context.Context, tokenHash string) (store.User, error)
	DeleteSession(ctx context.Context, tokenHash string) error
	CreateUserAPIKey(ctx context.Context, userID int64, name, prefix, hash string) (store.APIKey, error)
	UserAPIKeys(ctx context.Context, userID int64) ([]store.KeyInfo, error)
	RevokeAPIKey(ctx context.Context, id int64, userID *int64) error
}

// PortalConfig configures the developer portal.
type PortalConfig struct {
	// SignupOpen lets anyone create an account; when false only an operator
	// can (cvecrowd users create).
	SignupOpen bool
	// Pending, when set, reports a key's usage counted in memory and not yet
	// written to the database, so the keys page is up to date.
	Pending func(keyID int64) store.KeyUsage
	// Password is the argon2id cost (zero: password.Default).
	Password password.Params
	// OnRevoke, when set, is told of every revoked key.
	OnRevoke func(keyID int64)
}

// SessionCookie is the name of the portal's session cookie.
const SessionCookie = "cvecrowd_session"

// SessionLifetime is how long a login lasts.
const SessionLifetime = 30 * 24 * time.Hour

// MaxKeysPerUser bounds the active keys of one account.
const MaxKeysPerUser = 20

// MaxKeyRowsPerUser bounds all keys one account has made, revoked ones included.
const MaxKeyRowsPerUser = 100

// Portal serves the developer portal: sign up, log in and out, and API keys.
type Portal struct {
	acc     Accounts
	cfg     PortalConfig
	log     *slog.Logger
	tmpl    *template.Template
	handler http.Handler
	now     func() time.Time
	// hashing bounds concurrent argon2id computations (19 MiB each), so a
	// flood of logins cannot exhaust memory.
	hashing chan struct{}
	// throttle slows password guessing per account and per address.
	throttle *loginThrottle
}

// NewPortal returns the portal, which shares the site's templates and log.
// It serves paths under /portal/.
func NewPortal(site *Site, acc Accounts, cfg PortalConfig) (*Portal, error) {
	if cfg.Password == (password.Params{}) {
		cfg.Password = password.Default
	}
	t, log := site.tmpl, site.log
	p := &Portal{acc: acc, cfg: cfg, log: log, tmpl: t, now: time.Now, hashing: make(chan struct{}, 4)}
	p.throttle = newLoginThrottle(func() time.Time { return p.now() })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /portal/{$}", p.index)
	mux.HandleFunc("GET /portal/signup", p.signupForm)
	mux.HandleFunc("POST /portal/signup", p.signup)
	mux.HandleFunc("GET /portal/login", p.loginForm)
	mux.HandleFunc("POST /portal/login", p.login)
	mux.HandleFunc("POST /portal/logout", p.logout)
	mux.HandleFunc("GET /portal/keys", p.keys)
	mux.HandleFunc("POST /portal/keys", p.createKey)
	mux.HandleFunc("POST /portal/keys/{id}/revoke", p.revokeKey)
	mux.HandleFunc("/portal/", func(w http.ResponseWriter, r *http.Request) {
		p.message(w, http.StatusNotFound, "There is no page at this address.")
	})
	// Every form posts to this site only: a cross-site POST (a form on
	// another origin, a fetch from a malicious page) is refused.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.message(w, http.StatusForbidden, "This form was sent from another site and has been refused.")
	}))
	p.handler = cop.Handler(mux)
	return p, nil
}

// when renders an instant for the keys table.
func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// ServeHTTP serves a portal page with the site's security headers. Portal
// pages are personal: nothing is cached.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	p.handler.ServeHTTP(w, r)
}

type portalPage struct {
	Title      string
	User       *store.User
	SignupOpen bool
	Email      string // refilled into a form after an error
	Error      string
	Keys       []keyRow
	NewKey     string // shown once, right after creation
	NewKeyName string
	Base       string // this server's URL as the browser sees it, for the curl example
	Now        time.Time
}

type keyRow struct {
	store.KeyInfo
	LastUsed *time.Time
	Requests int64
}

func (p *Portal) render(w http.ResponseWriter, status int, name string, data portalPage) {
	data.SignupOpen = p.cfg.SignupOpen
	data.Now = p.now()
	var buf strings.Builder
	if err := p.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		p.log.Error("render portal page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, buf.String())
}

func (p *Portal) message(w http.ResponseWriter, status int, msg string) {
	var buf strings.Builder
	err := p.tmpl.ExecuteTemplate(&buf, "error.html", struct {
		Status  int
		Title   string
		Message string
	}{status, http.StatusText(status), msg})
	if err != nil {
		http.Error(w, msg, status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, buf.String())
}

func (p *Portal) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	p.log.Error("portal request failed", "path", r.URL.Path, "err", err)
	p.message(w, http.StatusInternalServerError, "Something went wrong on our side; it has been logged.")
}

// user returns the logged-in account, or nil.
func (p *Portal) user(r *http.Request) (*store.User, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 128 {
		return nil, nil
	}
	u, err := p.acc.SessionUser(r.Context(), tokenHash(c.Value))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &u, nil
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// secure reports whether the browser reached us over TLS, directly or
// through a proxy that says so.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (p *Portal) startSession(w http.ResponseWriter, r *http.Request, u store.User) error {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("portal: session token: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	expires := p.now().Add(SessionLifetime)
	if err := p.acc.CreateSession(r.Context(), u.ID, tokenHash(token), expires); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/portal/", Expires: expires, MaxAge: int(SessionLifetime / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure(r),
	})
	return nil
}

func (p *Portal) index(w http.ResponseWriter, r *http.Request) {
	u, err := p.user(r)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if u != nil {
		http.Redirect(w, r, "/portal/keys", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/portal/login", http.StatusSeeOther)
}

func (p *Portal) signupForm(w http.ResponseWriter, r *http.Request) {
	if !p.cfg.SignupOpen {
		p.render(w, http.StatusForbidden, "portal_signup.html", portalPage{Title: "Sign up",
			Error: "Sign-up is closed on this server: ask its operator for an account."})
		return
	}
	p.render(w, http.StatusOK, "portal_signup.html", portalPage{Title: "Sign up"})
}

// form parses a small urlencoded form body.
func form(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	return r.ParseForm()
}

func checkEmail(email string) error {
	if len(email) > 254 {
		return errors.New("That email address is too long.")
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
		return errors.New("Please give an email address such as alice@example.org.")
	}
	return nil
}

func checkPassword(pw string) error {
	switch {
	case len(pw) < password.MinLength:
		return fmt.Errorf("Please choose a password of at least %d characters.", password.MinLength)
	case len(pw) > password.MaxLength:
		return fmt.Errorf("Please choose a password of at most %d characters.", password.MaxLength)
	}
	return nil
}

// withHashing runs fn once an argon2id slot is free.
func (p *Portal) withHashing(ctx context.Context, fn func()) error {
	select {
	case p.hashing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.hashing }()
	fn()
	return nil
}

func (p *Portal) signup(w http.ResponseWriter, r *http.Request) {
	if !p.cfg.SignupOpen {
		p.signupForm(w, r)
		return
	}
	if err := form(w, r); err != nil {
		p.message(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	email := store.NormalizeEmail(r.PostForm.Get("email"))
	pw := r.PostForm.Get("password")
	page := portalPage{Title: "Sign up", Email: email}
	if err := checkEmail(email); err != nil {
		page.Error = err.Error()
	} else if err := checkPassword(pw); err != nil {
		page.Error = err.Error()
	}
	if page.Error != "" {
		p.render(w, http.StatusBadRequest, "portal_signup.html", page)
		return
	}
	var hash string
	var herr error
	if err := p.withHashing(r.Context(), func() { hash, herr = password.Hash(pw, p.cfg.Password) }); err != nil {
		return
	}
	if herr != nil {
		p.fail(w, r, herr)
		return
	}
	u, err := p.acc.CreateUser(r.Context(), email, hash)
	if errors.Is(err, store.ErrExists) {
		page.Error = "An account with this email exists already: log in instead."
		p.render(w, http.StatusConflict, "portal_signup.html", page)
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if err := p.startSession(w, r, u); err != nil {
		p.fail(w, r, err)
		return
	}
	p.log.Info("portal sign-up", "user", u.ID)
	http.Redirect(w, r, "/portal/keys", http.StatusSeeOther)
}

func (p *Portal) loginForm(w http.ResponseWriter, r *http.Request) {
	p.render(w, http.StatusOK, "portal_login.html", portalPage{Title: "Log in"})
}

// dummyHash is checked against when the email is unknown, so a login for an
// unknown email takes as long as one for a known email.
// It is made on first use, not at start-up.
var dummyHash = sync.OnceValue(func() string {
	h, _ := password.Hash("not a password anyone has", password.Default)
	return h
})

func (p *Portal) login(w http.ResponseWriter, r *http.Request) {
	if err := form(w, r); err != nil {
		p.message(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	email := store.NormalizeEmail(r.PostForm.Get("email"))
	pw := r.PostForm.Get("password")
	page := portalPage{Title: "Log in", Email: email, Error: "Wrong email or password."}
	if len(pw) > password.MaxLength || len(email) > 254 {
		p.render(w, http.StatusUnauthorized, "portal_login.html", page)
		return
	}
	addr := clientAddress(r)
	// Checked before any hashing, so guesses cost the server nothing.
	if wait := p.throttle.wait(email, addr); wait > 0 {
		mins := int(wait.Minutes()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		page.Error = fmt.Sprintf("Too many failed logins. Try again in %d minute%s.", mins, map[bool]string{true: "", false: "s"}[mins == 1])
		p.log.Warn("portal login throttled", "email", email, "addr", addr)
		p.render(w, http.StatusTooManyRequests, "portal_login.html", page)
		return
	}
	u, err := p.acc.UserByEmail(r.Context(), email)
	known := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.fail(w, r, err)
		return
	}
	hash := u.PasswordHash
	if !known {
		hash = dummyHash()
	}
	var verr error
	if err := p.withHashing(r.Context(), func() { verr = password.Verify(pw, hash) }); err != nil {
		return
	}
	if !known || verr != nil {
		if verr != nil && !errors.Is(verr, password.ErrMismatch) {
			p.log.Error("portal: stored password hash unusable", "user", u.ID, "err", verr)
		}
		p.throttle.failed(email, addr)
		p.log.Info("portal login failed", "email", email, "addr", addr, "known_account", known)
		p.render(w, http.StatusUnauthorized, "portal_login.html", page)
		return
	}
	p.throttle.succeeded(email)
	if err := p.startSession(w, r, u); err != nil {
		p.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/portal/keys", http.StatusSeeOther)
}

func (p *Portal) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" && len(c.Value) <= 128 {
		if err := p.acc.DeleteSession(r.Context(), tokenHash(c.Value)); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/portal/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure(r)})
	http.Redirect(w, r, "/portal/login", http.StatusSeeOther)
}

// requireUser returns the logged-in account, or sends the browser to the
// login page and returns nil.
func (p *Portal) requireUser(w http.ResponseWriter, r *http.Request) *store.User {
	u, err := p.user(r)
	if err != nil {
		p.fail(w, r, err)
		return nil
	}
	if u == nil {
		http.Redirect(w, r, "/portal/login", http.StatusSeeOther)
	}
	return u
}

func (p *Portal) keyRows(ctx context.Context, u *store.User) ([]keyRow, error) {
	keys, err := p.acc.UserAPIKeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	rows := make([]keyRow, len(keys))
	for i, k := range keys {
		rows[i] = keyRow{KeyInfo: k, LastUsed: k.LastUsed, Requests: k.Requests}
		if p.cfg.Pending != nil {
			pend := p.cfg.Pending(k.ID)
			rows[i].Requests += pend.Requests
			if !pend.LastUsed.IsZero() && (rows[i].LastUsed == nil || pend.LastUsed.After(*rows[i].LastUsed)) {
				t := pend.LastUsed
				rows[i].LastUsed = &t
			}
		}
	}
	return rows, nil
}

func (p *Portal) keys(w http.ResponseWriter, r *http.Request) {
	u := p.requireUser(w, r)
	if u == nil {
		return
	}
	rows, err := p.keyRows(r.Context(), u)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, http.StatusOK, "portal_keys.html", portalPage{Title: "API keys", User: u, Keys: rows})
}

func (p *Portal) createKey(w http.ResponseWriter, r *http.Request) {
	u := p.requireUser(w, r)
	if u == nil {
		return
	}
	if err := form(w, r); err != nil {
		p.message(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	page := portalPage{Title: "API keys", User: u}
	rows, err := p.keyRows(r.Context(), u)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	active := 0
	for _, k := range rows {
		if k.RevokedAt == nil {
			active++
		}
	}
	switch {
	case name == "" || utf8.RuneCountInString(name) > 100 || !utf8.ValidString(name) ||
		strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }):
		page.Error = "Please name the key (up to 100 characters, no control characters), e.g. the script that will use it."
	case active >= MaxKeysPerUser:
		page.Error = fmt.Sprintf("You have %d active keys, the most allowed: revoke one first.", active)
	case len(rows) >= MaxKeyRowsPerUser:
		// Revoked keys stay listed (their usage is history), so creating and
		// revoking in a loop must not grow the table without end.
		page.Error = fmt.Sprintf("You have made %d keys, the most one account may make; ask the operator to clean up.", len(rows))
	}
	if page.Error != "" {
		page.Keys = rows
		p.render(w, http.StatusBadRequest, "portal_keys.html", page)
		return
	}
	key, prefix, hash, err := apikey.Generate()
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if _, err := p.acc.CreateUserAPIKey(r.Context(), u.ID, name, prefix, hash); err != nil {
		p.fail(w, r, err)
		return
	}
	if page.Keys, err = p.keyRows(r.Context(), u); err != nil {
		p.fail(w, r, err)
		return
	}
	// The key is in this answer only (never in a URL, never stored).
	page.NewKey, page.NewKeyName = key, name
	page.Base = "http://" + r.Host
	if secure(r) {
		page.Base = "https://" + r.Host
	}
	p.render(w, http.StatusCreated, "portal_keys.html", page)
}

func (p *Portal) revokeKey(w http.ResponseWriter, r *http.Request) {
	u := p.requireUser(w, r)
	if u == nil {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		p.message(w, http.StatusNotFound, "There is no such key.")
		return
	}
	err = p.acc.RevokeAPIKey(r.Context(), id, &u.ID)
	if errors.Is(err, store.ErrNotFound) {
		p.message(w, http.StatusNotFound, "There is no such key among yours.")
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if p.cfg.OnRevoke != nil {
		p.cfg.OnRevoke(id)
	}
	http.Redirect(w, r, "/portal/keys", http.StatusSeeOther)
}
