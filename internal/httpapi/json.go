package httpapi

import (
	"time"

	"github.com/cvecrowd/cvecrowd/internal/trend"
)

// CVE is the API's CVE object. Every key is always present; unknown values
// are null.
type CVE struct {
	CVEID          string     `json:"cve_id"`
	Description    *string    `json:"description"`
	Vendor         *string    `json:"vendor"`
	Product        *string    `json:"product"`
	Published      *time.Time `json:"published"`
	Updated        *time.Time `json:"updated"`
	CVSSVector     *string    `json:"cvss_vector"`
	BaseScore      *float64   `json:"base_score"`
	BaseSeverity   *string    `json:"base_severity"`
	EPSS           *float64   `json:"epss"`
	EPSSPercentile *float64   `json:"epss_percentile"`
	KEV            bool       `json:"kev"`
	Verified       bool       `json:"verified"`
	Weight         float64    `json:"weight"`
	PostsCount     int        `json:"posts_count"`
	Interactions   int        `json:"interactions"`
	FirstSeen      time.Time  `json:"first_seen"`
	LastSeen       time.Time  `json:"last_seen"`
}

// NewCVE converts a trend view to the API object.
func NewCVE(c trend.CVE) CVE {
	return CVE{
		CVEID:          c.CVE.ID,
		Description:    c.Description,
		Vendor:         c.Vendor,
		Product:        c.Product,
		Published:      c.Published,
		Updated:        c.Updated,
		CVSSVector:     c.CVSSVector,
		BaseScore:      c.BaseScore,
		BaseSeverity:   c.BaseSeverity,
		EPSS:           c.EPSS,
		EPSSPercentile: c.EPSSPercentile,
		KEV:            c.KEV,
		Verified:       c.Verified,
		Weight:         c.Weight,
		PostsCount:     c.Posts,
		Interactions:   c.Interactions,
		FirstSeen:      c.FirstSeen,
		LastSeen:       c.LastSeen,
	}
}

// Account is the author of a post.
type Account struct {
	Acct        string  `json:"acct"`
	DisplayName string  `json:"display_name"`
	URL         *string `json:"url"`
	Avatar      *string `json:"avatar"`
}

// Post is the API's post object.
type Post struct {
	URI             string     `json:"uri"`
	URL             *string    `json:"url"`
	CreatedAt       time.Time  `json:"created_at"`
	EditedAt        *time.Time `json:"edited_at"`
	Language        *string    `json:"language"`
	Content         string     `json:"content"`
	ReblogsCount    int        `json:"reblogs_count"`
	FavouritesCount int        `json:"favourites_count"`
	RepliesCount    int        `json:"replies_count"`
	Weight          float64    `json:"weight"`
	CVEs            []string   `json:"cves"`
	Account         Account    `json:"account"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// NewPost converts a weighed post to the API object.
func NewPost(p trend.Post) Post {
	cves := p.CVEs
	if cves == nil {
		cves = []string{}
	}
	accountURL := p.Account.URL
	if len(accountURL) > 5 && accountURL[:5] == "acct:" {
		accountURL = ""
	}
	return Post{
		URI:             p.URI,
		URL:             optional(p.URL),
		CreatedAt:       p.CreatedAt,
		EditedAt:        p.EditedAt,
		Language:        optional(p.Language),
		Content:         p.Content,
		ReblogsCount:    p.Reblogs,
		FavouritesCount: p.Favourites,
		RepliesCount:    p.Replies,
		Weight:          p.Weight,
		CVEs:            cves,
		Account: Account{
			Acct:        p.Account.Acct,
			DisplayName: p.Account.DisplayName,
			URL:         optional(accountURL),
			Avatar:      optional(p.Account.Avatar),
		},
	}
}
