package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/cvecrowd/cvecrowd/internal/ingest"
)

// fileConfig is the optional --config file: the instances to ingest, each
// with its own token and feeds. A token may be given inline or, better, as
// the name of an environment variable (token_env), so the file can be
// shared without the secret.
//
//	{"instances": [
//	  {"url": "https://infosec.exchange", "token_env": "INFOSEC_TOKEN",
//	   "feeds": ["public", "tag:cve", "hashtags", "search", "stream"]},
//	  {"url": "https://ioc.exchange"}
//	]}
type fileConfig struct {
	Instances []fileInstance `json:"instances"`
}

type fileInstance struct {
	URL          string   `json:"url"`
	Token        string   `json:"token"`
	TokenEnv     string   `json:"token_env"`
	Feeds        []string `json:"feeds"`
	StreamingURL string   `json:"streaming_url"`
}

// loadConfigFile reads the instances of a --config file. Errors never
// quote token values.
func loadConfigFile(path string) ([]ingest.Source, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	var fc fileConfig
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	var out []ingest.Source
	for i, in := range fc.Instances {
		if in.URL == "" {
			return nil, fmt.Errorf("config %s: instance %d has no url", path, i+1)
		}
		tok := in.Token
		if in.TokenEnv != "" {
			v, ok := os.LookupEnv(in.TokenEnv)
			if !ok {
				return nil, fmt.Errorf("config %s: instance %s: environment variable %s (token_env) is not set", path, in.URL, in.TokenEnv)
			}
			tok = v
		}
		out = append(out, ingest.Source{URL: in.URL, Token: strings.TrimSpace(tok), Feeds: in.Feeds, StreamingURL: in.StreamingURL})
	}
	return out, nil
}
