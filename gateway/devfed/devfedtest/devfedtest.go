// Package devfedtest starts a development federation for a test: real
// nodes on loopback with agreements in force and sample traffic sent.
package devfedtest

import (
	"context"
	"testing"

	"github.com/laborlink/laborlink/gateway/devfed"
)

// Seeded starts a development federation in a directory of tb's, makes its
// agreements and sends transfersPerDestination sample transfers to each
// destination (devfed.Federation.Seed). The federation is closed when the
// test ends.
func Seeded(tb testing.TB, transfersPerDestination int) *devfed.Federation {
	tb.Helper()
	ctx := context.Background()
	f, err := devfed.Start(ctx, devfed.Options{Dir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	if err := f.Seed(ctx, transfersPerDestination); err != nil {
		tb.Fatal(err)
	}
	return f
}
