package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestUsersSessionsAndOwnedKeys(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	alice, err := db.CreateUser(ctx, " Alice@Example.org", "$argon2id$x")
	if err != nil || alice.Email != "alice@example.org" {
		t.Fatalf("CreateUser = %+v, %v", alice, err)
	}
	if _, err := db.CreateUser(ctx, "ALICE@example.org", "h"); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate email: %v", err)
	}
	if u, err := db.UserByEmail(ctx, "alice@EXAMPLE.org"); err != nil || u.ID != alice.ID || u.PasswordHash != "$argon2id$x" {
		t.Fatalf("UserByEmail = %+v, %v", u, err)
	}
	if _, err := db.UserByEmail(ctx, "nobody@example.org"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown email: %v", err)
	}

	// Sessions: found while unexpired, gone after expiry or deletion.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.CreateSession(ctx, alice.ID, "h1", t0.Add(time.Hour)))
	must(db.CreateSession(ctx, alice.ID, "h2", t0.Add(time.Hour)))
	if u, err := db.SessionUser(ctx, "h1"); err != nil || u.ID != alice.ID {
		t.Fatalf("SessionUser = %+v, %v", u, err)
	}
	must(db.DeleteSession(ctx, "h1"))
	if _, err := db.SessionUser(ctx, "h1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted session: %v", err)
	}
	db.SetClock(func() time.Time { return t0.Add(2 * time.Hour) })
	if _, err := db.SessionUser(ctx, "h2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired session: %v", err)
	}
	db.SetClock(func() time.Time { return t0 })

	// Keys: owned and unowned, listed, revoked only by their owner.
	bob, _ := db.CreateUser(ctx, "bob@example.org", "h")
	k1, err := db.CreateUserAPIKey(ctx, alice.ID, "alice-1", "cvc_aaaaaaaa", "hash1")
	must(err)
	_, err = db.CreateUserAPIKey(ctx, bob.ID, "bob-1", "cvc_bbbbbbbb", "hash2")
	must(err)
	_, err = db.CreateAPIKey(ctx, "admin", "cvc_cccccccc", "hash3")
	must(err)
	mine, err := db.UserAPIKeys(ctx, alice.ID)
	if err != nil || len(mine) != 1 || mine[0].Name != "alice-1" || mine[0].Email != "alice@example.org" || mine[0].UserID == nil {
		t.Fatalf("UserAPIKeys = %+v, %v", mine, err)
	}
	all, err := db.APIKeys(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("APIKeys = %+v, %v", all, err)
	}
	if err := db.RevokeAPIKey(ctx, k1.ID, &bob.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("bob revoking alice's key: %v", err)
	}
	must(db.RevokeAPIKey(ctx, k1.ID, &alice.ID))
	db.SetClock(func() time.Time { return t0.Add(time.Hour) })
	must(db.RevokeAPIKey(ctx, k1.ID, nil)) // again, as admin: the first time is kept
	got, err := db.APIKeysByPrefix(ctx, "cvc_aaaaaaaa")
	if err != nil || len(got) != 1 || got[0].Hash != "hash1" || got[0].RevokedAt == nil || !got[0].RevokedAt.Equal(t0) {
		t.Fatalf("APIKeysByPrefix = %+v, %v", got, err)
	}
	if err := db.RevokeAPIKey(ctx, 9999, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}

	// Usage adds up and keeps the latest use.
	must(db.AddAPIKeyUsage(ctx, []KeyUsage{{KeyID: k1.ID, Requests: 5, LastUsed: t0.Add(time.Minute)}}))
	must(db.AddAPIKeyUsage(ctx, []KeyUsage{{KeyID: k1.ID, Requests: 2, LastUsed: t0}}))
	got, _ = db.APIKeysByPrefix(ctx, "cvc_aaaaaaaa")
	if got[0].Requests != 7 || got[0].LastUsed == nil || !got[0].LastUsed.Equal(t0.Add(time.Minute)) {
		t.Fatalf("usage = %d requests, last %v", got[0].Requests, got[0].LastUsed)
	}
}
