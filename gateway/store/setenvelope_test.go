package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestSetEnvelope checks that an envelope written by SetEnvelope comes back
// from the outbox as one set field by field does, also when a field is
// changed after SetEnvelope.
func TestSetEnvelope(t *testing.T) {
	digest := bytes.Repeat([]byte{7}, 32)
	appendEnv := func(i int) func([]byte) ([]byte, error) {
		return func(b []byte) ([]byte, error) { return fmt.Appendf(b, `{"id":"01ENV%05d"}`, i), nil }
	}
	tests := []struct {
		name   string
		digest []byte
		edit   func(*Outgoing)
		want   []byte // digest expected back
		env    string
	}{
		{"signed", nil, nil, nil, `{"id":"01ENV00000"}`},
		{"to sign with its batch", digest, nil, digest, `{"id":"01ENV00001"}`},
		{"envelope replaced", digest, func(m *Outgoing) { m.Envelope = []byte(`{"id":"other"}`) }, digest, `{"id":"other"}`},
		{"digest replaced", digest, func(m *Outgoing) { m.SigningDigest = bytes.Repeat([]byte{9}, 32) }, bytes.Repeat([]byte{9}, 32), `{"id":"01ENV00003"}`},
		{"digest dropped", digest, func(m *Outgoing) { m.SigningDigest = nil }, nil, `{"id":"01ENV00004"}`},
	}
	ctx := context.Background()
	s, _ := openTest(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := outgoing(i, "44")
			if err := m.SetEnvelope(tt.digest, appendEnv(i)); err != nil {
				t.Fatal(err)
			}
			if tt.edit != nil {
				tt.edit(&m)
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
