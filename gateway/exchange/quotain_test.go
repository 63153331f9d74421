package exchange

import (
	"encoding/json"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/policy"
)

// sealedAt is rec in an envelope sealed at at and signed by province p's
// node, as it travels: what an origin that skips its quota check sends.
func (f *federation) sealedAt(p string, rec contracts.Record, at time.Time) json.RawMessage {
	f.t.Helper()
	env, err := contracts.NewEnvelope(rec, 1, at)
	if err != nil {
		f.t.Fatal(err)
	}
	raw, err := json.Marshal(f.sign(p, env))
	if err != nil {
		f.t.Fatal(err)
	}
	return raw
}

// monthlyTransfers sets an agreement's quotas to max transfers a month.
func monthlyTransfers(max int) func(*contracts.Agreement) {
	return func(a *contracts.Agreement) {
		a.Quotas = []contracts.Quota{{RecordType: contracts.RecordTransfer, Period: contracts.QuotaMonth, Max: max}}
	}
}

// wantStatuses fails t unless results are, in order, of the statuses
// want, each rejection or deferral for quota_reached alone.
func wantStatuses(t *testing.T, what string, results []peer.Result, err error, want ...peer.Status) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if len(results) != len(want) {
		t.Fatalf("%s: %d results, want %d", what, len(results), len(want))
	}
	for i, r := range results {
		if r.Status != want[i] {
			t.Errorf("%s: envelope %d %s %v, want %s", what, i, r.Status, r.Reasons, want[i])
		}
		if (r.Status == peer.StatusRejected || r.Status == peer.StatusDeferred) && !slices.Equal(r.Reasons, []string{"quota_reached"}) {
			t.Errorf("%s: envelope %d %s for %v, want quota_reached", what, i, r.Status, r.Reasons)
		}
	}
}

// TestTheDestinationHoldsAnOriginToTheQuota: an origin that does not
// enforce an agreement's quota (an older release, a dishonest node)
// cannot push records past it: the destination counts what it stores and
// rejects the records beyond the quota, quota_reached, audited as every
// import denial is, whether the decision saw the quota used up or the
// commit found the last room taken by an earlier record of the request.
// A denial that may be the destination's registry lagging an amendment
// that raised the quota is deferred: for an envelope younger than
// LagWindow, or while the replica is stale.
func TestTheDestinationHoldsAnOriginToTheQuota(t *testing.T) {
	for name, mode := range auditModes {
		t.Run(name, func(t *testing.T) { testTheDestinationHoldsAnOriginToTheQuota(t, mode) })
	}
}

func testTheDestinationHoldsAnOriginToTheQuota(t *testing.T, mode auditMode) {
	f := newFederationWith(t, mode, 0, "51", "44")
	a := f.agreement("51", "44", monthlyTransfers(2))
	g := f.generator("51", "44", 71)
	dest := f.nodes["44"]
	old := f.now.Add(-2 * LagWindow) // the denials are final
	envs := make([]json.RawMessage, 4)
	for i := range envs {
		envs[i] = f.sealedAt("51", g.Transfer(), old)
	}
	// The decision sees room for all three; the commit has it for two.
	got, err := f.deliver("51", "44", envs[:3]...)
	wantStatuses(t, "within the quota and one past it", got, err, peer.StatusStored, peer.StatusStored, peer.StatusRejected)
	// Now the decision sees the quota used up.
	young := f.sealedAt("51", g.Transfer(), f.now)
	got, err = f.deliver("51", "44", envs[3], young)
	wantStatuses(t, "past the quota", got, err, peer.StatusRejected, peer.StatusDeferred)
	dest.stale.Store(true)
	got, err = f.deliver("51", "44", f.sealedAt("51", g.Transfer(), old))
	wantStatuses(t, "past the quota, with a stale replica", got, err, peer.StatusDeferred)

	if n := len(dest.inbox(t)); n != 2 {
		t.Errorf("the destination stored %d transfers under a quota of 2 a month", n)
	}
	entries := dest.auditEntries(t)
	for _, raw := range envs[2:] {
		id := envelopeID(t, raw)
		e := find(entries, audit.KindDenied, id)
		if e == nil || !slices.Equal(e.Reasons, []audit.Reason{audit.ReasonQuotaExceeded}) {
			t.Errorf("envelope %s rejected past the quota: audit entry %+v, want a denial for %s", id, e, audit.ReasonQuotaExceeded)
		}
	}
	if e := find(entries, audit.KindDenied, envelopeID(t, young)); e != nil {
		t.Errorf("a deferred envelope was audited denied: %+v", e)
	}
	name := receivedPrefix + quotaCounter(a.ID, contracts.RecordTransfer, contracts.QuotaMonth, old)
	if n, err := dest.store.Counter(name); err != nil || n != 2 {
		t.Errorf("counter %s = %d, %v; want 2", name, n, err)
	}
}

// TestARedeliveryTakesNoRoomInTheQuota: an envelope stored and sent again
// (its receipt lost) is a duplicate, not another record of the quota: the
// room it would take is left for a new one. One the commit finds no room
// for is deferred while it is young, as one the decision denies is.
func TestARedeliveryTakesNoRoomInTheQuota(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44", monthlyTransfers(3))
	g := f.generator("51", "44", 72)
	first := []json.RawMessage{f.rawSignedBy("51", g.Transfer()), f.rawSignedBy("51", g.Transfer())}
	got, err := f.deliver("51", "44", first...)
	wantStatuses(t, "first delivery", got, err, peer.StatusStored, peer.StatusStored)
	got, err = f.deliver("51", "44", first[0], first[1], first[0])
	wantStatuses(t, "redelivery", got, err, peer.StatusDuplicate, peer.StatusDuplicate, peer.StatusDuplicate)
	got, err = f.deliver("51", "44", f.rawSignedBy("51", g.Transfer()), f.rawSignedBy("51", g.Transfer()))
	wantStatuses(t, "the quota's last room, and one past it", got, err, peer.StatusStored, peer.StatusDeferred)
	got, err = f.deliver("51", "44", f.sealedAt("51", g.Transfer(), f.now.Add(-2*LagWindow)))
	wantStatuses(t, "past the quota, sealed long ago", got, err, peer.StatusRejected)
}

// TestTheDestinationCountsARecordInThePeriodItWasSealedIn: the origin
// counts a record in the month it seals it in, so the destination does
// too, whenever it arrives: records sealed at the end of one month and
// delivered in the next, up to the quota of each, are all stored.
func TestTheDestinationCountsARecordInThePeriodItWasSealedIn(t *testing.T) {
	f := newFederation(t, "51", "44")
	a := f.agreement("51", "44", monthlyTransfers(2))
	g := f.generator("51", "44", 73)
	now := f.now.In(chinaStandardTime)
	lastMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, chinaStandardTime).Add(-time.Millisecond)
	var envs []json.RawMessage
	for _, at := range []time.Time{lastMonth, lastMonth, f.now, f.now} {
		envs = append(envs, f.sealedAt("51", g.Transfer(), at))
	}
	got, err := f.deliver("51", "44", envs...)
	wantStatuses(t, "two a month", got, err, peer.StatusStored, peer.StatusStored, peer.StatusStored, peer.StatusStored)
	for _, at := range []time.Time{lastMonth, f.now} {
		name := receivedPrefix + quotaCounter(a.ID, contracts.RecordTransfer, contracts.QuotaMonth, at)
		if n, err := f.nodes["44"].store.Counter(name); err != nil || n != 2 {
			t.Errorf("counter %s = %d, %v; want 2", name, n, err)
		}
	}
}

// TestAnHonestOriginAtItsQuotaIsNeverRefused: every record an origin
// that keeps the quota accepts is stored at the destination, the quota
// full at both ends, which count it apart: a node sends and receives
// referrals under the same agreement, either province opening cases, and
// what it received takes none of what it may send.
func TestAnHonestOriginAtItsQuotaIsNeverRefused(t *testing.T) {
	f := newFederation(t, "51", "44")
	a := f.agreement("51", "44", func(a *contracts.Agreement) {
		a.Quotas = []contracts.Quota{{RecordType: contracts.RecordReferral, Period: contracts.QuotaYear, Max: 2}}
	})
	g := f.generator("51", "44", 74)
	sent, received := quotaCounter(a.ID, contracts.RecordReferral, contracts.QuotaYear, f.now), receivedPrefix+quotaCounter(a.ID, contracts.RecordReferral, contracts.QuotaYear, f.now)
	f.awaitCases("44", f.referCasesFrom(g, "51", 2))
	f.awaitCases("51", f.referCasesFrom(g, "44", 2))
	over := referralFrom(g, "51")
	over.Status = contracts.CaseReferred
	if res := f.submit("51", over); res[0].Outcome != OutcomeDenied {
		t.Errorf("a referral past the quota: %+v, want denied", res[0])
	}
	for _, p := range []string{"51", "44"} {
		for _, name := range []string{sent, received} {
			if n, err := f.nodes[p].store.Counter(name); err != nil || n != 2 {
				t.Errorf("%s: counter %s = %d, %v; want 2", p, name, n, err)
			}
		}
	}
}

// envelopeID is the id of the envelope raw.
func envelopeID(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var env struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	return env.ID
}

// TestADeliveryReadsTheQuotaOncePerMonth: the envelopes of one request
// sealed in the same month, under the same agreement and of the same type,
// share one read of the destination's counters (its checks would see no
// more by reading again: the request's records are counted in its commit);
// an envelope sealed in another month reads its own.
func TestADeliveryReadsTheQuotaOncePerMonth(t *testing.T) {
	f := newFederation(t, "51", "44")
	a := f.agreement("51", "44", monthlyTransfers(5))
	g := f.generator("51", "44", 73)
	dest := f.nodes["44"]
	envelope := func(at time.Time) *contracts.Envelope {
		return &contracts.Envelope{AgreementID: a.ID, Type: contracts.RecordTransfer, Created: at}
	}
	key := policy.QuotaKey{AgreementID: a.ID, Period: contracts.QuotaMonth}
	var reads quotaReads
	agreements := []contracts.Agreement{*a}
	if used, _ := reads.usage(dest.x, agreements, envelope(f.now)); used[key] != 0 {
		t.Fatalf("used %d before any record arrived", used[key])
	}
	got, err := f.deliver("51", "44", f.sealedAt("51", g.Transfer(), f.now))
	wantStatuses(t, "one record", got, err, peer.StatusStored)
	if used, _ := dest.x.receivedUsage(agreements, envelope(f.now)); used[key] != 1 {
		t.Fatalf("a fresh read sees %d used, want 1", used[key])
	}
	used, counters := reads.usage(dest.x, agreements, envelope(f.now))
	if used[key] != 0 {
		t.Errorf("the request's second envelope of the month read the counters again (used %d)", used[key])
	}
	if cs := counters[a.ID]; len(cs) != 1 || cs[0].Name != receivedPrefix+quotaCounter(a.ID, contracts.RecordTransfer, contracts.QuotaMonth, f.now) {
		t.Errorf("counters %+v, want the month's received counter", cs)
	}
	earlier := f.now.AddDate(0, -1, 0)
	if _, counters := reads.usage(dest.x, agreements, envelope(earlier)); len(counters[a.ID]) != 1 || counters[a.ID][0].Name != receivedPrefix+quotaCounter(a.ID, contracts.RecordTransfer, contracts.QuotaMonth, earlier) {
		t.Errorf("an envelope of the month before got counters %+v, want that month's", counters[a.ID])
	}
}

// TestAnEnvelopeSealedAheadWaitsForItsTime: an envelope sealed later than
// the destination's clock allows is deferred, not counted, stored or
// audited, so a sender cannot date records into a later period whose
// quota counter is still empty; once the destination's clock reaches it,
// it is decided as any other. One sealed within the clocks' allowance is
// taken at once.
func TestAnEnvelopeSealedAheadWaitsForItsTime(t *testing.T) {
	var ahead atomic.Int64
	f := newFederationClock(t, auditInStore, 0, func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }, "51", "44")
	a := f.agreement("51", "44", monthlyTransfers(1))
	g := f.generator("51", "44", 74)
	dest := f.nodes["44"]
	later := time.Now().AddDate(0, 2, 0) // not the month of any other envelope here
	early := f.sealedAt("51", g.Transfer(), later)
	got, err := f.deliver("51", "44", early, f.sealedAt("51", g.Transfer(), time.Now().Add(contracts.MaxClockAhead-time.Minute)))
	if err != nil || len(got) != 2 {
		t.Fatalf("deliver: %d results, %v", len(got), err)
	}
	if got[0].Status != peer.StatusDeferred || !slices.Equal(got[0].Reasons, []string{ReasonSealedAhead}) {
		t.Errorf("an envelope sealed two months ahead: %s %v, want deferred %s", got[0].Status, got[0].Reasons, ReasonSealedAhead)
	}
	if got[1].Status != peer.StatusStored {
		t.Errorf("an envelope sealed within the clocks' allowance: %s %v, want stored", got[1].Status, got[1].Reasons)
	}
	name := receivedPrefix + quotaCounter(a.ID, contracts.RecordTransfer, contracts.QuotaMonth, later)
	if n, err := dest.store.Counter(name); err != nil || n != 0 {
		t.Errorf("counter %s = %d, %v before the envelope's time; want 0", name, n, err)
	}
	if slices.ContainsFunc(dest.auditEntries(t), func(e audit.Entry) bool { return e.EnvelopeID == envelopeID(t, early) }) {
		t.Errorf("the deferred envelope was audited")
	}
	ahead.Store(int64(time.Until(later)))
	got, err = f.deliver("51", "44", early)
	wantStatuses(t, "once its time has come", got, err, peer.StatusStored)
	if n, err := dest.store.Counter(name); err != nil || n != 1 {
		t.Errorf("counter %s = %d, %v; want 1", name, n, err)
	}
}

// TestAQuotaReadHoldsOnlyTheChecksOfItsCounters: while the counters of one
// agreement, type and month are being read (a read waits for the sync of
// a commit on its way), the request's checks of other counters go on,
// those read already and those still to read, and a check of the same
// counters waits for that read and takes what it read, not reading them
// again.
func TestAQuotaReadHoldsOnlyTheChecksOfItsCounters(t *testing.T) {
	var reads quotaReads
	key := quotaReadKey{agreement: "A-1", t: contracts.RecordTransfer, year: 2026, month: time.April}
	other, read := key, key
	other.month, read.month = time.May, time.June
	month := policy.QuotaKey{AgreementID: "A-1", Period: contracts.QuotaMonth}
	use := func(n int) quotaUse { return quotaUse{used: map[policy.QuotaKey]int{month: n}} }
	reads.readOnce(read, func() quotaUse { return use(3) })

	var readsOfKey atomic.Int32
	reading, release := make(chan struct{}), make(chan struct{})
	got := make(chan quotaUse, 2)
	go func() {
		got <- reads.readOnce(key, func() quotaUse {
			readsOfKey.Add(1)
			close(reading)
			<-release
			return use(1)
		})
	}()
	<-reading
	go func() {
		got <- reads.readOnce(key, func() quotaUse { readsOfKey.Add(1); return use(2) })
	}()

	others := make(chan [2]quotaUse)
	go func() {
		others <- [2]quotaUse{reads.readOnce(other, func() quotaUse { return use(4) }), reads.readOnce(read, func() quotaUse { return use(5) })}
	}()
	select {
	case u := <-others:
		if u[0].used[month] != 4 || u[1].used[month] != 3 {
			t.Errorf("checks of other counters got %+v; want a read of their own, and the one read before", u)
		}
	case <-time.After(5 * time.Second):
		t.Error("checks of other counters waited for the read of one month's")
		close(release)
		<-others
		release = nil
	}
	if release != nil {
		close(release)
	}
	for range 2 {
		if u := <-got; u.used[month] != 1 {
			t.Errorf("a check of the month read got %+v; want what its one read read", u)
		}
	}
	if n := readsOfKey.Load(); n != 1 {
		t.Errorf("the month's counters were read %d times, want once", n)
	}
}
