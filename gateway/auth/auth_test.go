package auth

import (
	"context"
	"errors"
	"testing"

	"github.com/laborlink/laborlink/pki"
)

func TestRequire(t *testing.T) {
	sys := pki.Identity{Domain: "fed.test", Province: "51", Kind: pki.KindSystem, Name: "hr"}
	tests := []struct {
		name     string
		ctx      context.Context
		province string
		kinds    []pki.Kind
		want     error
	}{
		{"allowed", WithIdentity(context.Background(), sys), "51", []pki.Kind{pki.KindSystem}, nil},
		{"no identity", context.Background(), "51", []pki.Kind{pki.KindSystem}, ErrUnauthenticated},
		{"wrong kind", WithIdentity(context.Background(), sys), "51", []pki.Kind{pki.KindAdmin, pki.KindNode}, ErrForbidden},
		{"other province", WithIdentity(context.Background(), sys), "44", []pki.Kind{pki.KindSystem}, ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RequireProvince(tt.ctx, tt.province, tt.kinds...)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
