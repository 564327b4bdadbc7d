package mastodon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// SearchStatuses fetches GET /api/v2/search?q=&type=statuses. Mastodon
// answers it only with a user token, and only finds posts of accounts that
// opted in to search (4.2+), so it complements the timelines. minID, when
// set, asks for results newer than it. Items that fail to decode are
// counted as malformed, as on a timeline page.
func (c *Client) SearchStatuses(ctx context.Context, q string, minID string, limit int) (*Page, error) {
	if strings.TrimSpace(q) == "" {
		return nil, errors.New("mastodon: SearchStatuses: empty query")
	}
	v := url.Values{"q": {q}, "type": {"statuses"}}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	if minID != "" {
		v.Set("min_id", minID)
	}
	r, err := c.get(ctx, "/api/v2/search", v)
	if err != nil {
		return nil, err
	}
	if k := jsonKind(bytes.TrimSpace(r.body)); k != "object" {
		return nil, c.bodyError(r, "response is not a JSON object", nil)
	}
	var w struct {
		Statuses []json.RawMessage `json:"statuses"`
	}
	if err := json.Unmarshal(r.body, &w); err != nil {
		return nil, c.bodyError(r, "decode search results", err)
	}
	page := &Page{RateLimit: ParseRateLimit(r.header)}
	for i, it := range w.Statuses {
		st, err := ParseStatus(it)
		if err != nil {
			page.Malformed++
			if len(page.MalformedErrs) < maxMalformedErrs {
				page.MalformedErrs = append(page.MalformedErrs, c.redactErr(fmt.Errorf("item %d: %w", i, err)))
			}
			continue
		}
		page.Statuses = append(page.Statuses, *st)
	}
	return page, nil
}

// StatusRate is Status that also returns the server's rate-limit answer, so
// that a caller refreshing many posts can stay inside the budget.
func (c *Client) StatusRate(ctx context.Context, id string) (*Status, RateLimit, error) {
	if id == "" {
		return nil, RateLimit{}, errors.New("mastodon: Status: empty id")
	}
	r, err := c.get(ctx, "/api/v1/statuses/"+url.PathEscape(id), nil)
	if err != nil {
		var he *HTTPError
		if errors.As(err, &he) {
			return nil, he.RateLimit, err
		}
		return nil, RateLimit{}, err
	}
	rl := ParseRateLimit(r.header)
	if k := jsonKind(bytes.TrimSpace(r.body)); k != "object" {
		return nil, rl, c.bodyError(r, "response is not a JSON object", nil)
	}
	st, err := ParseStatus(r.body)
	if err != nil {
		return nil, rl, c.bodyError(r, "decode status", err)
	}
	return st, rl, nil
}
