package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const corpus = "../../testdata/corpus/corpus.jsonl"

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr string
	}{
		{"defaults", nil, nil, config{"testdata/corpus/corpus.jsonl", "127.0.0.1:8081", "none", 1, "fake.example"}, ""},
		{"flags", []string{"--corpus", "c.jsonl", "--listen", ":0", "--engagement", "synthetic", "--seed", "9", "--domain", "d.example"}, nil,
			config{"c.jsonl", ":0", "synthetic", 9, "d.example"}, ""},
		{"env", nil, map[string]string{"FAKEFEDI_CORPUS": "e.jsonl", "FAKEFEDI_SEED": "5", "FAKEFEDI_ENGAGEMENT": "synthetic"},
			config{"e.jsonl", "127.0.0.1:8081", "synthetic", 5, "fake.example"}, ""},
		{"flag beats env", []string{"--seed=7"}, map[string]string{"FAKEFEDI_SEED": "5"},
			config{"testdata/corpus/corpus.jsonl", "127.0.0.1:8081", "none", 7, "fake.example"}, ""},
		{"bad env seed", nil, map[string]string{"FAKEFEDI_SEED": "x"}, config{}, `FAKEFEDI_SEED="x"`},
		{"bad engagement", []string{"--engagement", "lots"}, nil, config{}, "--engagement"},
		{"bad env engagement", nil, map[string]string{"FAKEFEDI_ENGAGEMENT": "lots"}, config{}, "--engagement"},
		{"unknown flag", []string{"--nope"}, nil, config{}, "not defined"},
		{"stray argument", []string{"extra"}, nil, config{}, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRunServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--engagement", "synthetic", "--seed", "3"},
			func(k string) string {
				if k == "FAKEFEDI_CORPUS" {
					return corpus
				}
				return ""
			}, stdoutW, io.Discard)
		stdoutW.Close()
	}()

	line, err := bufio.NewReader(stdoutR).ReadString('\n')
	if err != nil {
		t.Fatalf("no URL on stdout: %v (run: %v)", err, <-done)
	}
	base := strings.TrimSpace(line)
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("stdout line %q", line)
	}
	go func() { _, _ = io.Copy(io.Discard, stdoutR) }()

	resp, err := http.Get(base + "/api/v1/timelines/public?limit=40")
	if err != nil {
		t.Fatal(err)
	}
	var page []struct {
		FavouritesCount int `json:"favourites_count"`
	}
	err = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if err != nil || len(page) != 40 {
		t.Fatalf("timeline: %d statuses, err %v", len(page), err)
	}
	favs := 0
	for _, st := range page {
		favs += st.FavouritesCount
	}
	if favs == 0 {
		t.Error("--engagement synthetic served no favourites")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("run did not shut down")
	}
}

func TestRunMissingCorpus(t *testing.T) {
	err := run(context.Background(), []string{"--corpus", "does/not/exist.jsonl", "--listen", "127.0.0.1:0"},
		func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "exist.jsonl") {
		t.Fatalf("err = %v", err)
	}
}
