package gatewaytest

import (
	"testing"
	"time"

	"github.com/laborlink/laborlink/pki/pkitest"
)

// Eventually polls cond until it holds, failing the test after 15 seconds:
// tests wait on conditions, never on fixed sleeps.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	pkitest.Eventually(t, 15*time.Second, what, cond)
}
