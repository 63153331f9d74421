package registry_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
)

// BenchmarkAgreementWrite3Voters measures the commit latency of one signed
// agreement transition (suspend, then resume, alternately) submitted to the
// leader of three voters over mTLS on loopback, with bbolt fsyncs: from
// Submit to the applied result. Signing happens before the timer, as it does
// on the admin's machine.
func BenchmarkAgreementWrite3Voters(b *testing.B) {
	c := regtest.NewCluster(b, 3, 0, nil)
	a51, a44 := c.PKI.Admin(b, "51", "zhang"), c.PKI.Admin(b, "44", "li")
	now := time.Now()
	from, until := registry.DayOf(now.AddDate(0, 0, -1)), registry.DayOf(now.AddDate(1, 0, 0))
	ctx := context.Background()
	res, err := c.Client(c.Nodes[0], a51).Submit(ctx, registry.OpPropose, regtest.Agreement("AG-B", "510000", "440000", from, until))
	if err != nil {
		b.Fatal(err)
	}
	v := res.Agreement.Latest()
	for _, a := range []*regtest.Admin{a51, a44} {
		if _, err := c.Client(c.Nodes[0], a).Submit(ctx, registry.OpApprove, registry.TransitionBody{ID: "AG-B", Version: 1, Digest: v.Digest}); err != nil {
			b.Fatal(err)
		}
	}
	leader := c.WaitLeader()
	var envs []*registry.Envelope
	lat := make([]time.Duration, 0, 4096)
	next, total := 0, 0
	for b.Loop() {
		if next == len(envs) {
			b.StopTimer()
			envs = envs[:0]
			for j := range 512 {
				op := registry.OpSuspend
				if (total+j)%2 == 1 {
					op = registry.OpResume
				}
				envs = append(envs, regtest.Signed(b, a44.Signer, op, registry.TransitionBody{ID: "AG-B"}, time.Now()))
			}
			next = 0
			b.StartTimer()
		}
		start := time.Now()
		res, err := leader.Reg.Submit(ctx, envs[next])
		lat = append(lat, time.Since(start))
		if err != nil || res.Err != nil {
			b.Fatalf("write %d: %v %v", total, err, res.Err)
		}
		next++
		total++
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
