package password

import (
	"errors"
	"strings"
	"testing"
)

// fast keeps the tests quick; the format and checks are the same.
var fast = Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse battery", fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not PHC argon2id", h)
	}
	h2, _ := Hash("correct horse battery", fast)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	tests := []struct {
		name    string
		pw, enc string
		want    error // nil, ErrMismatch, or errAny
	}{
		{"right", "correct horse battery", h, nil},
		{"wrong", "correct horse batterx", h, ErrMismatch},
		{"empty", "", h, ErrMismatch},
		{"not argon2id", "x", "$2a$10$abcdefghijklmnopqrstuv", errAny},
		{"huge memory", "x", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$a2V5", errAny},
		{"zero time", "x", "$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$a2V5", errAny},
		{"bad base64", "x", "$argon2id$v=19$m=64,t=1,p=1$!!$a2V5", errAny},
		{"wrong version", "x", "$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5", errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.pw, tt.enc)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("Verify = %v, want nil", err)
			case tt.want == ErrMismatch && !errors.Is(err, ErrMismatch):
				t.Fatalf("Verify = %v, want ErrMismatch", err)
			case tt.want == errAny && (err == nil || errors.Is(err, ErrMismatch)):
				t.Fatalf("Verify = %v, want a format error", err)
			}
		})
	}
}

var errAny = errors.New("any format error")

func TestDefaultParams(t *testing.T) {
	h, err := Hash("a long enough password", Default)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h, "$m=19456,t=2,p=1$") {
		t.Fatalf("default hash %q", h)
	}
	if err := Verify("a long enough password", h); err != nil {
		t.Fatal(err)
	}
}

func TestGenerate(t *testing.T) {
	a, _ := Generate()
	b, _ := Generate()
	if len(a) != 20 || a == b {
		t.Fatalf("Generate = %q, %q", a, b)
	}
}
