package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
)

// toSign is m queued to be signed with its delivery batch, its envelope
// and digest set as export sets them (SetEnvelope).
func toSign(t testing.TB, m Outgoing, digest []byte) Outgoing {
	t.Helper()
	env := m.Envelope
	if err := m.SetEnvelope(digest, func(b []byte) ([]byte, error) { return append(b, env...), nil }); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSetEnvelope checks that an envelope written by SetEnvelope comes back
// from the outbox with its digest, also when SetEnvelope is called again
// with another envelope or digest, or none.
func TestSetEnvelope(t *testing.T) {
	digest := bytes.Repeat([]byte{7}, 32)
	appendEnv := func(env string) func([]byte) ([]byte, error) {
		return func(b []byte) ([]byte, error) { return append(b, env...), nil }
	}
	tests := []struct {
		name   string
		digest []byte
		again  func(*Outgoing) error // a second SetEnvelope, if any
		want   []byte                // digest expected back
		env    string
	}{
		{"signed", nil, nil, nil, `{"id":"01ENV00000"}`},
		{"to sign with its batch", digest, nil, digest, `{"id":"01ENV00001"}`},
		{"envelope replaced", digest, func(m *Outgoing) error { return m.SetEnvelope(digest, appendEnv(`{"id":"other"}`)) }, digest, `{"id":"other"}`},
		{"digest replaced", digest, func(m *Outgoing) error {
			return m.SetEnvelope(bytes.Repeat([]byte{9}, 32), appendEnv(`{"id":"01ENV00003"}`))
		}, bytes.Repeat([]byte{9}, 32), `{"id":"01ENV00003"}`},
		{"digest dropped", digest, func(m *Outgoing) error { return m.SetEnvelope(nil, appendEnv(`{"id":"01ENV00004"}`)) }, nil, `{"id":"01ENV00004"}`},
	}
	ctx := context.Background()
	s, _ := openTest(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := outgoing(i, "44")
			if err := m.SetEnvelope(tt.digest, appendEnv(fmt.Sprintf(`{"id":"01ENV%05d"}`, i))); err != nil {
				t.Fatal(err)
			}
			if tt.again != nil {
				if err := tt.again(&m); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.Enqueue(ctx, []Outgoing{m}); err != nil {
				t.Fatal(err)
			}
			got, err := s.Pending("44", 100, func(id string) bool { return id != m.EnvelopeID })
			if err != nil || len(got) != 1 {
				t.Fatalf("pending: %v %v", got, err)
			}
			if !bytes.Equal(got[0].SigningDigest, tt.want) || string(got[0].Envelope) != tt.env {
				t.Errorf("came back as digest %x, envelope %s; want %x, %s", got[0].SigningDigest, got[0].Envelope, tt.want, tt.env)
			}
		})
	}
	refuse := errors.New("refused")
	var m Outgoing
	if err := m.SetEnvelope(digest, func([]byte) ([]byte, error) { return nil, refuse }); !errors.Is(err, refuse) {
		t.Errorf("an encoding error: %v", err)
	}
}

// TestEnqueueRefusesADigestNotSetWithItsEnvelope: the outbox value of an
// envelope to sign is the one SetEnvelope wrote; a digest or envelope set
// field by field would not be what the value says, so Enqueue refuses it
// and writes nothing.
func TestEnqueueRefusesADigestNotSetWithItsEnvelope(t *testing.T) {
	digest := bytes.Repeat([]byte{7}, 32)
	for _, c := range []struct {
		name string
		edit func(*Outgoing)
	}{
		{"digest set alone", func(m *Outgoing) { m.SigningDigest = digest }},
		{"envelope changed after SetEnvelope", func(m *Outgoing) { *m = toSign(t, *m, digest); m.Envelope = []byte(`{"id":"other"}`) }},
		{"digest changed after SetEnvelope", func(m *Outgoing) { *m = toSign(t, *m, digest); m.SigningDigest = bytes.Repeat([]byte{9}, 32) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, _ := openTest(t)
			m := outgoing(1, "44")
			c.edit(&m)
			if _, err := s.Enqueue(context.Background(), []Outgoing{outgoing(2, "44"), m}); err == nil || !bytes.Contains([]byte(err.Error()), []byte(m.EnvelopeID)) {
				t.Errorf("Enqueue: %v, want an error naming %s", err, m.EnvelopeID)
			}
			if d := s.Depth()["44"]; d != 0 {
				t.Errorf("%d envelopes queued, want none", d)
			}
		})
	}
}
