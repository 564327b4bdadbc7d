package apikey

import (
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	k1, p1, h1, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	k2, _, h2, _ := Generate()
	if k1 == k2 || h1 == h2 {
		t.Fatal("two keys are equal")
	}
	if !strings.HasPrefix(k1, Prefix) || len(k1) != len(Prefix)+48 || p1 != k1[:PrefixLen] {
		t.Fatalf("key %q prefix %q", k1, p1)
	}
	if Hash(k1) != h1 || len(h1) != 64 || strings.Contains(h1, k1) {
		t.Fatalf("hash %q", h1)
	}
}
