package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laborlink/laborlink/contracts"
)

// appendJSON appends st's JSON encoding to b: the bytes json.Marshal(st)
// writes, which TestStatusJSON and FuzzStatusJSON hold it to. Enqueue
// encodes a status for every record it accepts, before the group commit,
// and encoding/json's reflection was most of that cost.
//
// The raw documents (Receipt, and each answer's Summary), which
// json.Marshal checks and compacts, still go through json.Marshal, one at
// a time: only a status that has them pays for it, and an accepted one
// has none. On error it returns b with nothing appended.
func (st *Status) appendJSON(b []byte) ([]byte, error) {
	out, err := st.appendObject(b)
	if err != nil {
		return b, fmt.Errorf("status of %s: %w", st.EnvelopeID, err)
	}
	return out, nil
}

// statusSize is the room appendJSON needs for an accepted status with
// these strings, unless they need escaping.
func statusSize(envelopeID, ref, typ, peer string) int {
	return len(`{"envelope_id":"","ref":"","type":"","peer":"","state":"accepted","accepted_at":""}`) +
		len(time.RFC3339Nano) + len(envelopeID) + len(ref) + len(typ) + len(peer)
}

// appendObject is appendJSON, its errors not yet naming the status.
func (st *Status) appendObject(b []byte) ([]byte, error) {
	b = append(b, `{"envelope_id":`...)
	b = contracts.AppendJSONString(b, st.EnvelopeID)
	b = appendStringMember(b, "ref", st.Ref)
	b = appendStringMember(b, "type", st.Type)
	b = appendStringMember(b, "peer", st.Peer)
	b = appendStringMember(b, "state", string(st.State))
	if len(st.Reasons) > 0 {
		b = append(b, `,"reasons":`...)
		b = contracts.AppendJSONStrings(b, st.Reasons)
	}
	b, err := appendTimeMember(b, "accepted_at", st.AcceptedAt)
	if err != nil {
		return nil, err
	}
	if !st.DeliveredAt.IsZero() {
		if b, err = appendTimeMember(b, "delivered_at", st.DeliveredAt); err != nil {
			return nil, err
		}
	}
	if len(st.Receipt) > 0 {
		if b, err = appendMarshalledMember(b, "receipt", st.Receipt); err != nil {
			return nil, err
		}
	}
	if !st.FailedAt.IsZero() {
		if b, err = appendTimeMember(b, "failed_at", st.FailedAt); err != nil {
			return nil, err
		}
	}
	if !st.DiscardedAt.IsZero() {
		if b, err = appendTimeMember(b, "discarded_at", st.DiscardedAt); err != nil {
			return nil, err
		}
	}
	if len(st.Answers) > 0 {
		b = append(b, `,"answers":[`...)
		for i := range st.Answers {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = st.Answers[i].appendJSON(b); err != nil {
				return nil, fmt.Errorf("answer %s: %w", st.Answers[i].EnvelopeID, err)
			}
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// appendJSON appends a's JSON encoding as json.Marshal writes it.
func (a *Answer) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"envelope_id":`...)
	b = contracts.AppendJSONString(b, a.EnvelopeID)
	b = appendStringMember(b, "type", a.Type)
	b, err := appendTimeMember(b, "received_at", a.ReceivedAt)
	if err != nil {
		return nil, err
	}
	if len(a.Summary) > 0 {
		if b, err = appendMarshalledMember(b, "summary", a.Summary); err != nil {
			return nil, err
		}
	}
	if a.Refused != "" {
		b = appendStringMember(b, "refused", a.Refused)
	}
	return append(b, '}'), nil
}

// appendTimeMember appends a member that is not the first, t written as
// json.Marshal writes a time.Time: RFC 3339 with the sub-second digits it
// has. A year outside 0-9999 or a zone offset of a day or more is an
// error, as there (time.Time.AppendText checks what MarshalJSON checks).
func appendTimeMember(b []byte, name string, t time.Time) ([]byte, error) {
	b = appendMemberName(b, name)
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return append(b, '"'), nil
}

// appendMarshalledMember appends a member that is not the first, raw as
// json.Marshal writes it within a struct: checked, compacted and
// HTML-escaped, which is what json.Marshal of raw alone writes.
func appendMarshalledMember(b []byte, name string, raw json.RawMessage) ([]byte, error) {
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return append(appendMemberName(b, name), data...), nil
}

// appendStringMember appends a string member that is not the first, s
// written as json.Marshal writes a string.
func appendStringMember(b []byte, name, s string) []byte {
	return contracts.AppendJSONString(appendMemberName(b, name), s)
}

// appendMemberName appends the name of a member that is not the first.
func appendMemberName(b []byte, name string) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	return append(b, `":`...)
}

// acceptedStatuses encodes the status of each record as accepted at now,
// with what is kept of a transfer's worker, all into one buffer: they are
// written and let go together.
func acceptedStatuses(msgs []Outgoing, now time.Time) ([][]byte, error) {
	n := 0
	for _, m := range msgs {
		n += statusSize(m.EnvelopeID, m.Ref, m.Type, m.Peer)
		if m.Worker != nil {
			n += m.Worker.size()
		}
	}
	buf := make([]byte, 0, n)
	statuses := make([][]byte, len(msgs))
	for i, m := range msgs {
		st := storedStatus{Status{EnvelopeID: m.EnvelopeID, Ref: m.Ref, Type: m.Type, Peer: m.Peer, State: StateAccepted, AcceptedAt: now}, m.Worker}
		start := len(buf)
		var err error
		if buf, err = st.appendJSON(buf); err != nil {
			return nil, err
		}
		statuses[i] = buf[start:len(buf):len(buf)]
	}
	return statuses, nil
}

// putStatus is putJSON for a record's whole value (storedStatus), without
// encoding/json's reflection.
func putStatus(b *bolt.Bucket, key string, st *storedStatus) error {
	data, err := st.appendJSON(nil)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), data)
}
