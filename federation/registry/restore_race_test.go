package registry_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/laborlink/laborlink/federation/registry"
	"github.com/laborlink/laborlink/federation/registry/regtest"
	"github.com/laborlink/laborlink/pki"
)

// TestRestoreOrdersAWriteRacingIt: a write that reaches the leader while
// a restore is on its way to raft takes effect once, on every replica,
// wholly before the restore (below RestoredAt, and gone with the state the
// backup replaces) or wholly after it (above RestoredAt, and in the
// restored state); and RestoredAt is the index raft installed the backup
// at. A restore that chose its index before the write entered the log
// recorded the write's own index as the restore's, below the one raft
// installed it at.
func TestRestoreOrdersAWriteRacingIt(t *testing.T) {
	type outcome struct {
		res *registry.Result
		err error
	}
	held := make(chan struct{}, 1)
	var race func()
	c := regtest.NewCluster(t, 3, 0, func(cfg *registry.Config) {
		registry.OnRestore(cfg, func() { race() })
		registry.OnAppendHeld(cfg, func() {
			select {
			case held <- struct{}{}:
			default:
			}
		})
	})
	l := c.WaitLeader()
	s11 := c.PKI.Signer(t, "11", pki.KindAdmin, "ops")
	publish := func(content string) *registry.Envelope {
		return regtest.Signed(t, s11, registry.OpPolicyPublish, registry.PolicyBody{Content: []byte(content)}, time.Now())
	}
	for i := range 3 {
		if res, err := l.Reg.Submit(ctx(t), publish(fmt.Sprint("before ", i))); err != nil || res.Err != nil {
			t.Fatalf("publish: %v, %v", err, res)
		}
	}
	var b bytes.Buffer
	if err := l.Reg.Backup(ctx(t), &b); err != nil {
		t.Fatal(err)
	}

	// The write starts once the restore has chosen its index, and the
	// restore goes on when the write is applied or waits for it.
	done := make(chan outcome, 1)
	race = func() {
		go func() {
			res, err := l.Reg.Submit(ctx(t), publish("racing"))
			done <- outcome{res, err}
		}()
		select {
		case o := <-done:
			done <- o
		case <-held:
		}
	}
	installed := restoreInstalledAt(t, l, b.Bytes())
	o := <-done
	if o.err != nil || o.res.Err != nil {
		t.Fatalf("the write racing the restore: %v, %v", o.err, o.res)
	}
	c.WaitConverged()

	at := l.Reg.Store().RestoredAt()
	if at != installed {
		t.Errorf("RestoredAt %d, raft installed the backup at %d", at, installed)
	}
	w := o.res.Index
	if w == at {
		t.Errorf("the write racing the restore was applied at %d, the index the restore records", w)
	}
	for _, n := range c.Nodes {
		st := n.Reg.Store()
		if st.RestoredAt() != at {
			t.Errorf("%s: RestoredAt %d, the leader's %d", n.ID, st.RestoredAt(), at)
		}
		var found []uint64
		for _, p := range st.Policies() {
			if string(p.Content) == "racing" {
				found = append(found, p.Index)
			}
		}
		switch want := w > at; {
		case want && (len(found) != 1 || found[0] != w):
			t.Errorf("%s: the write applied after the restore, at %d, is in the state at %v; want once at %d", n.ID, w, found, w)
		case !want && len(found) != 0:
			t.Errorf("%s: the write applied at %d, before the restore at %d, outlived it: at %v", n.ID, w, at, found)
		}
	}
}
