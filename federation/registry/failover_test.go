package registry_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
)

// opInput and opOutput are one client operation on an agreement's
// suspensions, as porcupine sees it.
type opInput struct {
	ID, Kind, Prov string
}

type opOutput struct {
	OK        bool
	Suspended string // for reads: the provinces holding a suspension
}

// suspensionModel is the agreement's suspension set: suspend by a province
// succeeds iff it holds none, resume iff it holds one, a read sees the set.
var suspensionModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		for _, op := range h {
			id := op.Input.(opInput).ID
			by[id] = append(by[id], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range by {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(string), input.(opInput), output.(opOutput)
		set := []string{}
		if s != "" {
			set = strings.Split(s, ",")
		}
		held := slices.Contains(set, in.Prov)
		switch in.Kind {
		case "suspend":
			if held {
				return !out.OK, s
			}
			if !out.OK {
				return false, s
			}
			set = append(set, in.Prov)
			slices.Sort(set)
			return true, strings.Join(set, ",")
		case "resume":
			if !held {
				return !out.OK, s
			}
			if !out.OK {
				return false, s
			}
			set = slices.DeleteFunc(set, func(p string) bool { return p == in.Prov })
			return true, strings.Join(set, ",")
		}
		return out.Suspended == s, s
	},
	DescribeOperation: func(in, out any) string { return fmt.Sprintf("%+v -> %+v", in, out) },
}

// client is one porcupine client: it talks to one node and moves to the
// next when that node stops answering, resubmitting the same signed command.
type client struct {
	id      int
	c       *regtest.Cluster
	admins  map[string]*regtest.Admin
	node    int
	running func() []*regtest.Node
}

func (cl *client) submit(t *testing.T, env *registry.Envelope, prov string) *registry.Result {
	for attempt := 0; ; attempt++ {
		nodes := cl.running()
		n := nodes[cl.node%len(nodes)]
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := cl.c.Client(n, cl.admins[prov]).SubmitEnvelope(ctx, env)
		cancel()
		if res != nil {
			return res
		}
		if attempt > 50 {
			t.Errorf("client %d: %s never answered: %v", cl.id, env.Op, err)
			return nil
		}
		cl.node++
	}
}

func (cl *client) read(t *testing.T, id string) (string, bool) {
	for attempt := 0; attempt < 50; attempt++ {
		nodes := cl.running()
		n := nodes[cl.node%len(nodes)]
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r, err := cl.c.Client(n, cl.admins["51"]).Agreement(ctx, id, true)
		cancel()
		if err == nil {
			return strings.Join(r.Data.Current().SuspendedBy, ","), true
		}
		cl.node++
	}
	t.Errorf("client %d: read of %s never answered", cl.id, id)
	return "", false
}

// killLeader stops c's leader, holding mu so that no client picks a node
// to talk to meanwhile.
func killLeader(t *testing.T, c *regtest.Cluster, mu *sync.Mutex, after int64) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	leader := c.WaitLeader()
	c.Stop(leader)
	t.Logf("killed leader %s after %d operations", leader.ID, after)
}

func TestLeaderKilledDuringWritesLosesNothingAndStaysLinearizable(t *testing.T) {
	c := regtest.NewCluster(t, 3, 2, nil)
	admins := map[string]*regtest.Admin{"51": c.PKI.Admin(t, "51", "zhang"), "44": c.PKI.Admin(t, "44", "li")}
	now := time.Now()
	from, until := registry.DayOf(now.AddDate(0, 0, -1)), registry.DayOf(now.AddDate(1, 0, 0))
	ids := []string{"AG-A", "AG-B"}
	for _, id := range ids {
		body := propose(t, c.Client(c.Nodes[0], admins["51"]), regtest.Agreement(id, "510000", "440000", from, until))
		for _, p := range []string{"51", "44"} {
			if _, err := c.Client(c.Nodes[0], admins[p]).Submit(ctx(t), registry.OpApprove, body); err != nil {
				t.Fatal(err)
			}
		}
	}

	var (
		mu      sync.Mutex
		history []porcupine.Operation
		acked   = map[string]string{} // nonce -> agreement, for acknowledged changes
		done    atomic.Int64
		start   = time.Now()
		killNow = make(chan struct{}, 1)
		killed  = make(chan struct{})
		running = func() []*regtest.Node {
			mu.Lock()
			defer mu.Unlock()
			return c.Running()
		}
	)
	const clients, perClient, killAfter = 4, 30, 40
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := &client{id: i, c: c, admins: admins, node: i, running: running}
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			for range perClient {
				in := opInput{ID: ids[rng.IntN(len(ids))], Kind: []string{"suspend", "resume", "read"}[rng.IntN(3)], Prov: []string{"51", "44"}[rng.IntN(2)]}
				call := time.Since(start).Nanoseconds()
				var out opOutput
				var nonce string
				if in.Kind == "read" {
					s, ok := cl.read(t, in.ID)
					if !ok {
						return
					}
					out.Suspended = s
				} else {
					op := registry.OpSuspend
					if in.Kind == "resume" {
						op = registry.OpResume
					}
					env := regtest.Signed(t, admins[in.Prov].Signer, op, registry.TransitionBody{ID: in.ID}, time.Now())
					res := cl.submit(t, env, in.Prov)
					if res == nil {
						return
					}
					if res.Err != nil && res.Err.Code != registry.EConflict {
						t.Errorf("%+v: %v", in, res.Err)
					}
					out.OK, nonce = res.Err == nil, env.Nonce
				}
				ret := time.Since(start).Nanoseconds()
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: i, Input: in, Output: out, Call: call, Return: ret})
				if out.OK {
					acked[nonce] = in.ID
				}
				mu.Unlock()
				if done.Add(1) == killAfter {
					// Held until the leader is dead, so that it dies
					// while the clients' writes go on, and before they
					// can all have finished.
					killNow <- struct{}{}
					<-killed
				}
			}
		}()
	}
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	// The test's goroutine kills the leader, not a client's: WaitLeader
	// fails the test with FailNow, which on a client's goroutine would end
	// it holding mu, and the other clients, waiting for mu, would hang
	// the test until the package's timeout. The client that asked waits
	// for killed, closed here whether the kill was done or failed.
	func() {
		defer close(killed)
		select {
		case <-killNow:
			killLeader(t, c, &mu, done.Load())
		case <-finished:
			t.Fatal("the leader was never killed")
		}
	}()
	<-finished

	if res := porcupine.CheckOperationsTimeout(suspensionModel, history, 30*time.Second); res != porcupine.Ok {
		t.Fatalf("history of %d operations is not linearizable: %s", len(history), res)
	}
	// Every acknowledged change is in the history of every surviving node.
	c.WaitConverged()
	for _, n := range c.Running() {
		seen := map[string]bool{}
		for _, id := range ids {
			rec, err := n.Reg.Store().Agreement(id)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range rec.History {
				seen[e.Command.Nonce] = true
			}
		}
		for nonce, id := range acked {
			if !seen[nonce] {
				t.Errorf("%s lost an acknowledged change of %s (nonce %s)", n.ID, id, nonce)
			}
		}
	}
	t.Logf("%d operations, %d acknowledged changes, linearizable", len(history), len(acked))
}
