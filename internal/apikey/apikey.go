// Package apikey makes API keys and the SHA-256 hashes under which they are stored.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Prefix starts every key, so leaked keys are easy to recognise and scan for.
const Prefix = "cvc_"

// PrefixLen is how many characters of a key are kept in clear to tell keys apart.
const PrefixLen = 12

// Generate returns a new random key, its display prefix and its hash.
func Generate() (key, prefix, hash string, err error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", "", fmt.Errorf("apikey: random: %w", err)
	}
	key = Prefix + hex.EncodeToString(b[:])
	return key, key[:PrefixLen], Hash(key), nil
}

// Hash returns the hex SHA-256 of key. Keys carry 192 random bits, so a
// fast hash is enough: there is nothing to brute-force.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
	return hex.EncodeToString(sum[:])
}
