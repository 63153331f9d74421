package exchange

import (
	"sync"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/peer"
	"github.com/laborlink/laborlink/gateway/policy"
	"github.com/laborlink/laborlink/gateway/store"
)

// receivedPrefix sets the destination's quota counters apart from the
// origin's (quotaCounter): a node sends and receives under the same
// agreement (referrals, which either province opens), and what it
// received is not what it sent.
const receivedPrefix = "received/"

// receivedUsage is what the import decision on env is told of the quotas
// of its type under the candidate agreements, and the counters a record
// stored increments, by agreement: the destination's count of what it
// stored from the origin, as the origin counts what it accepted.
//
// The period is the one env was sealed in (Created), in China Standard
// Time as at the origin: the origin counts a record in the period of the
// instant it seals it at, and Created is that instant to the millisecond,
// which a period's bounds (whole seconds) never fall inside. So the
// records of an honest origin fall in the periods it counted them in, and
// since the destination counts only those it stores, of the ones the
// origin counted, an honest origin's records never go past a quota here,
// while both registries hold the same quotas. Created is the origin's to
// set, though: one later than this node's clock allows waits for its time
// (ReasonSealedAhead), but an origin that dates its records back into
// earlier periods uses their unused room, which only a total quota holds.
func (x *Exchange) receivedUsage(agreements []contracts.Agreement, env *contracts.Envelope) (map[policy.QuotaKey]int, map[string][]store.Counter) {
	return x.quotaUsage(receivedQuotas(agreements, env.Type, env.Created))
}

// quotaReads is what the envelopes of one delivery request read of the
// destination's quota counters, by agreement, record type and the month
// they were sealed in: the counters are read once per request, not once
// per envelope (a request holds up to a batch of one corridor's records,
// mostly of one agreement and type). Reading them again for each envelope
// would see no more: the request's own records are counted only in its
// commit, which checks each counter's limit again, as for a concurrent
// request's. Safe for the request's concurrent checks.
type quotaReads struct {
	// mu guards seen alone, not the reads: a read waits for the sync of a
	// commit on its way (the store answers only what is durable), and held
	// across it, mu would hold every other check of the request at its
	// quotas, those of other counters or read already too.
	mu   sync.Mutex
	seen map[quotaReadKey]*quotaRead
}

// quotaReadKey names the counters an envelope's import decision reads: the
// month a record was sealed in names its month's, year's and total's.
type quotaReadKey struct {
	agreement string
	t         contracts.RecordType
	year      int
	month     time.Month
}

// quotaRead is the one read of a key's counters: the first check to need
// them reads them, and the others of that key wait for what it read.
type quotaRead struct {
	once sync.Once
	use  quotaUse
}

// quotaUse is what receivedUsage returns; the decision and the commit only
// read it.
type quotaUse struct {
	used     map[policy.QuotaKey]int
	counters map[string][]store.Counter
}

// usage is receivedUsage, read once per request for the envelope's
// agreement, type and month; a nil q reads them each time.
func (q *quotaReads) usage(x *Exchange, agreements []contracts.Agreement, env *contracts.Envelope) (map[policy.QuotaKey]int, map[string][]store.Counter) {
	if q == nil {
		return x.receivedUsage(agreements, env)
	}
	sealed := env.Created.In(chinaStandardTime)
	k := quotaReadKey{agreement: env.AgreementID, t: env.Type, year: sealed.Year(), month: sealed.Month()}
	u := q.readOnce(k, func() quotaUse {
		used, counters := x.receivedUsage(agreements, env)
		return quotaUse{used: used, counters: counters}
	})
	return u.used, u.counters
}

// readOnce returns what read returned for key k the first time it was called
// in the request: a call for k while that read is on its way waits for it,
// a call for another key does not.
func (q *quotaReads) readOnce(k quotaReadKey, read func() quotaUse) quotaUse {
	q.mu.Lock()
	r := q.seen[k]
	if r == nil {
		if q.seen == nil {
			q.seen = map[quotaReadKey]*quotaRead{}
		}
		r = new(quotaRead)
		q.seen[k] = r
	}
	q.mu.Unlock()
	r.once.Do(func() { r.use = read() })
	return r.use
}

// receivedQuotas lists the quotas of record type t under each candidate
// agreement, counted at the destination, for a record sealed at sealed.
func receivedQuotas(agreements []contracts.Agreement, t contracts.RecordType, sealed time.Time) []quota {
	qs := quotas(agreements, t, sealed)
	for i := range qs {
		qs[i].counter.Name = receivedPrefix + qs[i].counter.Name
	}
	return qs
}

// overQuota answers the envelope in, which its import decision (allowed)
// let through, but a quota of whose agreement the commit found used up:
// earlier envelopes of the request, or of a concurrent one, took the last
// room after the decision read the counters. It is denied quota_reached as
// the decision would have been: deferred while that may be this node's
// registry replica lagging an amendment that raised the quota (mayLag),
// else rejected, its denial kept for its audit entry.
func (x *Exchange) overQuota(in *inbound, allowed *policy.Decision, now time.Time) peer.Result {
	dec := quotaDenial(allowed, in.env.Type)
	if x.mayLag(dec, in.env, now) {
		return deferred(in.env.ID, dec.Codes()...)
	}
	in.denied = dec
	return rejected(in.env.ID, dec.Codes()...)
}
