package trend

import (
	"context"
	"time"
)

// BoardTime returns the instant the current board of days was computed at:
// post weights computed at it add up to the board's CVE weights, so a page
// that weighs posts itself agrees with Top and Posts.
func (s *Service) BoardTime(ctx context.Context, days int) (time.Time, error) {
	b, err := s.board(ctx, days)
	if err != nil {
		return time.Time{}, err
	}
	return b.at, nil
}
