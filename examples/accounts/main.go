// Command accounts lists the accounts that posted about a CVE in the last N days, from a cvecrowd API.
//
//	CVECROWD_KEY=cvc_... go run ./examples/accounts -days 3 CVE-2024-3094
//
// It prints one line per account, "acct<TAB>posts", sorted by acct. The
// server is http://127.0.0.1:8080 unless CVECROWD_URL says otherwise.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"time"
)

// post holds the keys of the API's post object this script needs.
type post struct {
	Account struct {
		Acct string `json:"acct"`
	} `json:"account"`
}

func main() {
	days := flag.Int("days", 3, "window in days (1 to 30)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: accounts [-days N] CVE-ID   (env CVECROWD_KEY, CVECROWD_URL)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	base := os.Getenv("CVECROWD_URL")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	posts, err := fetchPosts(ctx, base, os.Getenv("CVECROWD_KEY"), flag.Arg(0), *days)
	if err != nil {
		fmt.Fprintln(os.Stderr, "accounts:", err)
		os.Exit(1)
	}
	count := map[string]int{}
	for _, p := range posts {
		count[p.Account.Acct]++
	}
	accts := make([]string, 0, len(count))
	for a := range count {
		accts = append(accts, a)
	}
	slices.Sort(accts)
	for _, a := range accts {
		fmt.Printf("%s\t%d\n", a, count[a])
	}
}

// fetchPosts gets the CVE's posts, waiting out a rate limit once if the
// server asks to (429 with Retry-After).
func fetchPosts(ctx context.Context, base, key, cve string, days int) ([]post, error) {
	u := base + "/api/v1/cves/" + url.PathEscape(cve) + "/posts?days=" + strconv.Itoa(days)
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusTooManyRequests && attempt == 0 {
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			select {
			case <-time.After(time.Duration(max(wait, 1)) * time.Second):
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if resp.StatusCode != http.StatusOK {
			var e struct{ Error, Detail string }
			json.Unmarshal(body, &e)
			return nil, fmt.Errorf("%s: %s (%s)", resp.Status, e.Detail, e.Error)
		}
		var posts []post
		if err := json.Unmarshal(body, &posts); err != nil {
			return nil, errors.Join(errors.New("the answer is not a JSON array of posts"), err)
		}
		return posts, nil
	}
}
