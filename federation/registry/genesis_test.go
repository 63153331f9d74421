package registry_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/gateway/gatewaytest"
	"github.com/laborlink/laborlink/pki/pkitest"
)

// TestSubmittedInitIsRefused: a leader whose configured genesis was refused
// (here it has no roots) leads an uninitialized registry. The genesis is
// unsigned, so an admin of a province that is not even a member must not
// be able to install its own roots and stewards by submitting one, through
// the API or Submit.
func TestSubmittedInitIsRefused(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	n := c.AddNode("11", "fresh")
	g := c.PKI.Genesis(t, []registry.NodeSpec{{ID: n.ID, RaftAddr: n.Config.RaftAddr, APIAddr: n.Config.APIAddr}}, "11", "51", "44")
	g.Roots = nil
	n.Config.Genesis = &g
	c.Start(n)
	pkitest.Eventually(t, 20*time.Second, "the broken genesis to be refused in the log", func() bool {
		return n.Reg.Status().State == "Leader" && n.Reg.Store().AppliedIndex() > 0
	})
	if n.Reg.Store().Initialized() {
		t.Fatal("a genesis without roots initialized the registry")
	}

	evil := regtest.NewPKI(t, "33")
	eg := evil.Genesis(t, []registry.NodeSpec{{ID: n.ID, RaftAddr: n.Config.RaftAddr, APIAddr: n.Config.APIAddr}}, "33")
	eg.Stewards = []string{"33"}
	tests := []struct {
		name   string
		submit func(*registry.Envelope) (*registry.Result, error)
	}{
		{"api", func(env *registry.Envelope) (*registry.Result, error) {
			return c.Client(n, c.PKI.Admin(t, "33", "mallory")).SubmitEnvelope(context.Background(), env)
		}},
		{"submit", func(env *registry.Envelope) (*registry.Result, error) { return n.Reg.Submit(context.Background(), env) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := registry.NewEnvelope(registry.OpInit, eg)
			if err != nil {
				t.Fatal(err)
			}
			res, err := tt.submit(env)
			if registry.ErrorCode(err) != registry.EForbidden || !strings.Contains(err.Error(), "genesis") {
				t.Fatalf("submitted init: result %+v, error %v; want %s naming the configured genesis", res, err, registry.EForbidden)
			}
			if st := n.Reg.Store(); st.Initialized() || st.IsSteward("33") {
				t.Fatalf("submitted init applied: initialized %v, 33 a steward %v", st.Initialized(), st.IsSteward("33"))
			}
		})
	}
}

// TestARefusedGenesisIsLogged: a configured genesis that apply refuses
// (here its roots are not certificates) leaves the registry uninitialized
// for good, and readiness only says that no state came. The node must say
// why, naming what is wrong with the genesis.
func TestARefusedGenesisIsLogged(t *testing.T) {
	c := regtest.NewCluster(t, 1, 0, nil)
	n := c.AddNode("11", "fresh")
	g := c.PKI.Genesis(t, []registry.NodeSpec{{ID: n.ID, RaftAddr: n.Config.RaftAddr, APIAddr: n.Config.APIAddr}}, "11", "51", "44")
	g.Roots = []byte("not a certificate")
	n.Config.Genesis = &g
	var logs gatewaytest.Buffer
	n.Config.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c.Start(n)
	pkitest.Eventually(t, 20*time.Second, "the broken genesis to be refused in the log", func() bool {
		return n.Reg.Status().State == "Leader" && n.Reg.Store().AppliedIndex() > 0
	})
	if n.Reg.Store().Initialized() {
		t.Fatal("a genesis whose roots are no certificates initialized the registry")
	}
	pkitest.Eventually(t, 5*time.Second, "the refusal to be logged", func() bool {
		return strings.Contains(logs.String(), "federation roots")
	})
}
