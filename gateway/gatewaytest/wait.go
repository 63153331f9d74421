package gatewaytest

import (
	"testing"
	"time"
)

// Eventually polls cond until it holds, failing the test after 15 seconds:
// tests wait on conditions, never on fixed sleeps.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
