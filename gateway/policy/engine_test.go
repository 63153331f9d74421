package policy

import (
	"context"
	"fmt"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

// TestDecisionInFlightKeepsItsRevision: a decision that started before a swap
// finishes on the policy it started with and reports that revision; the next
// one uses the new policy.
func TestDecisionInFlightKeepsItsRevision(t *testing.T) {
	ctx := context.Background()
	dir := writeProvince(t, map[string]string{"sichuan.rego": "package laborlink.province\n"})
	e := newEngine(t, dir, DefaultCacheSize)
	old := e.Revisions()

	started, release := make(chan struct{}), make(chan struct{})
	e.beforeEval = func() {
		e.beforeEval = nil // only the first decision waits
		close(started)
		<-release
	}
	req := Request{Side: Export, Record: transfer51to44(), Agreements: []contracts.Agreement{agreement51to44()}}
	type result struct {
		d   *Decision
		err error
	}
	done := make(chan result)
	go func() {
		d, err := e.Decide(ctx, req)
		done <- result{d, err}
	}()
	<-started
	writeFile(t, dir, "sichuan.rego", "package laborlink.province\n\ndeny contains \"closed\" if input.side == \"export\"\n")
	if changed, err := e.ReloadProvince(ctx); err != nil || !changed {
		t.Fatalf("reload: changed %v, err %v", changed, err)
	}
	close(release)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.d.Revisions != old || !r.d.Allow {
		t.Errorf("in-flight decision: allow %v on %v, want allowed on %v", r.d.Allow, r.d.Revisions, old)
	}
	d, err := e.Decide(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if d.Revisions == old || d.Allow {
		t.Errorf("next decision: allow %v on %v, want denied on the new revision", d.Allow, d.Revisions)
	}
}

// TestSetBundle swaps in a new federation bundle version and refuses one that
// does not compile, keeping the old.
func TestSetBundle(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, "", DefaultCacheSize)
	shipped := e.Revisions()
	if shipped.BundleVersion != 0 || shipped.Bundle != FederationBundle().Revision() {
		t.Fatalf("shipped revisions %v", shipped)
	}
	bad := Layer{Version: 7, Files: map[string]string{"x.rego": "package laborlink.federation\n\ndecision := {"}}
	if err := e.SetBundle(ctx, bad); err == nil {
		t.Fatal("a bundle that does not compile was applied")
	}
	closed := Layer{Version: 8, Files: map[string]string{"x.rego": "package laborlink.federation\n\ndecision := {\"allow\": false, \"reasons\": [{\"code\": \"closed\", \"message\": \"closed\"}], \"obligations\": {}, \"agreement\": null}\n"}}
	if err := e.SetBundle(ctx, closed); err != nil {
		t.Fatal(err)
	}
	d, err := e.Decide(ctx, Request{Side: Export, Record: transfer51to44(), Agreements: []contracts.Agreement{agreement51to44()}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Allow || d.Revisions.BundleVersion != 8 || d.Revisions.Bundle == shipped.Bundle {
		t.Errorf("after SetBundle: %+v", d)
	}
	// A bundle without a decision rule denies rather than failing open.
	if err := e.SetBundle(ctx, Layer{Version: 9, Files: map[string]string{"x.rego": "package laborlink.federation\n"}}); err != nil {
		t.Fatal(err)
	}
	d, err = e.Decide(ctx, Request{Side: Export, Record: transfer51to44(), Agreements: []contracts.Agreement{agreement51to44()}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Allow || len(d.Codes()) != 1 || d.Codes()[0] != "bundle_undefined" {
		t.Errorf("a bundle without decision: %+v", d)
	}
}

// fakeBundleSource serves a fixed bundle, as the registry's replica would.
type fakeBundleSource struct{ l Layer }

func (f fakeBundleSource) FederationBundle(context.Context) (Layer, error) { return f.l, nil }

func TestRefreshFromBundleSource(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, "", DefaultCacheSize)
	next := FederationBundle()
	next.Version = 2
	if err := e.Refresh(ctx, fakeBundleSource{next}); err != nil {
		t.Fatal(err)
	}
	if got := e.Revisions(); got.BundleVersion != 2 || got.Bundle != next.Revision() {
		t.Errorf("revisions after refresh: %v", got)
	}
}

// TestDecideWithCacheOffBuildsNoKey: an engine whose cache is off
// (CacheSize < 0) decides as a cached one does without building cache
// keys. A key fingerprints every candidate agreement, so the engine's
// fingerprint memo stays empty only when no key was built; the cached
// engine's memo shows that these requests would have built some.
func TestDecideWithCacheOffBuildsNoKey(t *testing.T) {
	cached, uncached := newEngine(t, "", DefaultCacheSize), newEngine(t, "", -1)
	ags := []contracts.Agreement{agreement51to44()}
	for _, side := range []Side{Export, Import} {
		req := Request{Side: side, Record: transfer51to44(), Agreements: ags, Time: march15}
		for i := range 2 {
			decideBoth(t, cached, uncached, req, fmt.Sprintf("%s, decision %d", side, i))
		}
	}
	if len(cached.fingerprints.m) == 0 {
		t.Fatal("the cached engine fingerprinted no agreement: these requests build no key to miss")
	}
	if n := len(uncached.fingerprints.m); n != 0 {
		t.Errorf("the engine without a cache fingerprinted %d agreements: it built cache keys", n)
	}
}
