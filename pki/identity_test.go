package pki

import (
	"crypto/x509"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/laborlink/laborlink/contracts"
)

func TestParseIdentity(t *testing.T) {
	tests := []struct {
		uri     string
		want    Identity
		wantErr string
	}{
		{uri: "spiffe://p51.laborlink.example/node/gw-1", want: Identity{"laborlink.example", "51", KindNode, "gw-1"}},
		{uri: "spiffe://p44.laborlink.gov.cn/system/hr", want: Identity{"laborlink.gov.cn", "44", KindSystem, "hr"}},
		{uri: "spiffe://p66.laborlink.example/auditor/a1", want: Identity{"laborlink.example", "66", KindAuditor, "a1"}},
		{uri: "spiffe://p11.laborlink.example/operator/ops", want: Identity{"laborlink.example", "11", KindOperator, "ops"}},
		{uri: "spiffe://p51.laborlink.example/admin/zhang-wei", want: Identity{"laborlink.example", "51", KindAdmin, "zhang-wei"}},

		{uri: "", wantErr: "scheme must be spiffe"},
		{uri: "https://p51.laborlink.example/node/gw-1", wantErr: "scheme must be spiffe"},
		{uri: "SPIFFE://p51.laborlink.example/node/gw-1", wantErr: "canonical"},
		{uri: "spiffe:p51.laborlink.example/node/gw-1", wantErr: "missing host"},
		{uri: "spiffe:///node/gw-1", wantErr: "missing host"},
		{uri: "spiffe://p99.laborlink.example/node/gw-1", wantErr: "unknown province code"},
		{uri: "spiffe://p5.laborlink.example/node/gw-1", wantErr: "host must be"},
		{uri: "spiffe://51.laborlink.example/node/gw-1", wantErr: "host must be"},
		{uri: "spiffe://p51/node/gw-1", wantErr: "host must be"},
		{uri: "spiffe://p51.example/node/gw-1", wantErr: "invalid federation domain"},
		{uri: "spiffe://P51.laborlink.example/node/gw-1", wantErr: "host must be"},
		{uri: "spiffe://p51.LaborLink.example/node/gw-1", wantErr: "invalid federation domain"},
		{uri: "spiffe://p51.laborlink.example:8443/node/gw-1", wantErr: "port"},
		{uri: "spiffe://user@p51.laborlink.example/node/gw-1", wantErr: "user info"},
		{uri: "spiffe://p51.laborlink.example/node/gw-1?x=1", wantErr: "query"},
		{uri: "spiffe://p51.laborlink.example/node/gw-1?", wantErr: "query"},
		{uri: "spiffe://p51.laborlink.example/node/gw-1#frag", wantErr: "fragment"},
		{uri: "spiffe://p51.laborlink.example/node", wantErr: "path must be"},
		{uri: "spiffe://p51.laborlink.example", wantErr: "path must be"},
		{uri: "spiffe://p51.laborlink.example/node/gw-1/extra", wantErr: "path must be"},
		{uri: "spiffe://p51.laborlink.example/node/", wantErr: "invalid name"},
		{uri: "spiffe://p51.laborlink.example/root/gw-1", wantErr: `unknown kind "root"`},
		{uri: "spiffe://p51.laborlink.example/Node/gw-1", wantErr: `unknown kind "Node"`},
		{uri: "spiffe://p51.laborlink.example/node/GW-1", wantErr: "invalid name"},
		{uri: "spiffe://p51.laborlink.example/node/gw_1", wantErr: "invalid name"},
		{uri: "spiffe://p51.laborlink.example/node/-gw", wantErr: "invalid name"},
		{uri: "spiffe://p51.laborlink.example/node/gw%2D1", wantErr: "escaped"},
		{uri: "spiffe://p51.laborlink.example/node/gw%2f1", wantErr: "escaped"},
		{uri: "spiffe://p51.laborlink.example//node/gw-1", wantErr: "path must be"},
		{uri: "spiffe://p51.laborlink.example/node/gw 1", wantErr: "escaped"},
		{uri: "spiffe://p51.laborlink.example/node/%zz", wantErr: "not a URI"},
		{uri: "spiffe://p51.laborlink.example/node/" + strings.Repeat("a", 64), wantErr: "invalid name"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			got, err := ParseIdentity(tt.uri)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrMalformedIdentity) {
					t.Fatalf("ParseIdentity(%q) = %v, %v; want error containing %q wrapping ErrMalformedIdentity", tt.uri, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseIdentity(%q): %v", tt.uri, err)
			}
			if got != tt.want {
				t.Fatalf("ParseIdentity(%q) = %+v, want %+v", tt.uri, got, tt.want)
			}
			if got.URI() != tt.uri {
				t.Errorf("URI() = %q, want %q", got.URI(), tt.uri)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestIdentityString(t *testing.T) {
	id := Identity{Domain: testDomain, Province: "51", Kind: KindNode, Name: "gw-1"}
	if got := id.String(); got != "p51/node/gw-1" {
		t.Errorf("String() = %q", got)
	}
	if got := id.URI(); got != "spiffe://p51.laborlink.example/node/gw-1" {
		t.Errorf("URI() = %q", got)
	}
}

func TestIdentityFromCert(t *testing.T) {
	u := func(s string) *url.URL {
		t.Helper()
		v, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	good := "spiffe://p51.laborlink.example/node/gw-1"
	tests := []struct {
		name    string
		uris    []*url.URL
		wantErr string
	}{
		{"one identity", []*url.URL{u(good)}, ""},
		{"no URI", nil, "has 0 URI SANs"},
		{"two URIs", []*url.URL{u(good), u("spiffe://p51.laborlink.example/node/gw-2")}, "has 2 URI SANs"},
		{"malformed URI", []*url.URL{u("spiffe://p51.laborlink.example/node/gw-1/x")}, "path must be"},
		{"other scheme", []*url.URL{u("https://p51.laborlink.example/")}, "scheme must be spiffe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := IdentityFromCert(&x509.Certificate{URIs: tt.uris})
			if tt.wantErr == "" {
				if err != nil || id.URI() != good {
					t.Fatalf("IdentityFromCert = %v, %v", id, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrMalformedIdentity) {
				t.Fatalf("IdentityFromCert error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := IdentityFromCert(nil); err == nil {
		t.Error("IdentityFromCert(nil) succeeded")
	}
}

func TestProvincesAndKinds(t *testing.T) {
	codes := Provinces()
	if len(codes) != 32 || codes[0] != "11" || codes[len(codes)-1] != "66" {
		t.Errorf("Provinces() = %v", codes)
	}
	// Certificates and records name provinces from the same set: a code
	// one accepts and the other refuses would admit a node whose records
	// are all invalid, or the reverse.
	if divisions := contracts.Provinces(); !slices.Equal(codes, divisions) {
		t.Errorf("pki.Provinces() = %v, but the division codes records are checked against hold %v", codes, divisions)
	}
	for _, c := range []string{"00", "10", "16", "47", "67", "71", "81", "5", "510"} {
		if ValidProvince(c) {
			t.Errorf("ValidProvince(%q) = true", c)
		}
	}
	for _, k := range Kinds() {
		if got, err := ParseKind(string(k)); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k, got, err)
		}
	}
	if _, err := ParseKind("root"); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("ParseKind(root) error = %v", err)
	}
}

// TestCheckName: a name alone is checked as an identity checks its name
// part, with nothing else of an identity needed.
func TestCheckName(t *testing.T) {
	for name, ok := range map[string]bool{
		"gw-1": true, "a": true, strings.Repeat("a", 63): true,
		"": false, "GW-1": false, "gw_1": false, "-gw": false, "gw-": false, "gw/1": false, strings.Repeat("a", 64): false,
	} {
		err := CheckName(name)
		if (err == nil) != ok {
			t.Errorf("CheckName(%q) = %v, want ok %v", name, err, ok)
		}
		if id := (Identity{Domain: "laborlink.example", Province: "51", Kind: KindNode, Name: name}); (id.Validate() == nil) != ok {
			t.Errorf("Identity named %q: Validate = %v, CheckName = %v", name, id.Validate(), err)
		}
	}
}
