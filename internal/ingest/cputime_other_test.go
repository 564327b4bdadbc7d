//go:build !unix

package ingest

import "time"

// cpuTime is unknown here; the per-CPU rates then read as +Inf.
func cpuTime() time.Duration { return 0 }
