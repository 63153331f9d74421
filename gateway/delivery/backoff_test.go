package delivery

import (
	"testing"
	"time"
)

// TestBackoffDoesNotOverflow: a long min_backoff shifted by the failure
// count must reach the cap, not wrap around to a few microseconds.
func TestBackoffDoesNotOverflow(t *testing.T) {
	cfg := Config{BatchSize: 1, MinBackoff: 1<<44 + 1, MaxBackoff: 24 * time.Hour, Idle: time.Second}
	for failures := 1; failures <= 40; failures++ {
		if d := backoff(cfg, failures); d < cfg.MinBackoff/2 || d > cfg.MaxBackoff {
			t.Fatalf("backoff after %d failures = %s, want in [%s, %s]", failures, d, cfg.MinBackoff/2, cfg.MaxBackoff)
		}
	}
}
