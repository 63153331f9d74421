package pki

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// caState is what a CA directory remembers in state.json: every certificate
// it issued (so that revoke can refuse a mistyped serial and status can
// list them) and every revocation (the source of its CRL).
type caState struct {
	Issued  []issuedRecord  `json:"issued"`
	Revoked []revokedRecord `json:"revoked"`
}

// issuedRecord is one issued certificate.
type issuedRecord struct {
	Serial   string    `json:"serial"`
	Subject  string    `json:"subject"`
	Identity string    `json:"identity,omitempty"`
	NotAfter time.Time `json:"not_after"`
	IssuedAt time.Time `json:"issued_at"`
}

// revokedRecord is one revocation.
type revokedRecord struct {
	Serial    string    `json:"serial"`
	Reason    string    `json:"reason"`
	RevokedAt time.Time `json:"revoked_at"`
}

func parseState(source string, data []byte) (*caState, error) {
	var st caState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("%s: malformed CA state: %w", source, err)
	}
	return &st, nil
}

func (st *caState) marshal() ([]byte, error) {
	if st.Issued == nil {
		st.Issued = []issuedRecord{}
	}
	if st.Revoked == nil {
		st.Revoked = []revokedRecord{}
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// recordIssued returns the state with cert added.
func (st *caState) recordIssued(cert *x509.Certificate, now time.Time) {
	rec := issuedRecord{
		Serial:   serialString(cert.SerialNumber),
		Subject:  cert.Subject.CommonName,
		NotAfter: cert.NotAfter.UTC(),
		IssuedAt: now.UTC().Truncate(time.Second),
	}
	if id, err := IdentityFromCert(cert); err == nil {
		rec.Identity = id.URI()
	}
	st.Issued = append(st.Issued, rec)
}

func (st *caState) issued(serial *big.Int) (issuedRecord, bool) {
	s := serialString(serial)
	i := slices.IndexFunc(st.Issued, func(r issuedRecord) bool { return r.Serial == s })
	if i < 0 {
		return issuedRecord{}, false
	}
	return st.Issued[i], true
}

func (st *caState) revoked(serial *big.Int) (revokedRecord, bool) {
	s := serialString(serial)
	i := slices.IndexFunc(st.Revoked, func(r revokedRecord) bool { return r.Serial == s })
	if i < 0 {
		return revokedRecord{}, false
	}
	return st.Revoked[i], true
}

// ParseSerial reads a certificate serial number as the CLI prints it:
// hexadecimal, optionally with a 0x prefix or colon separators (as openssl
// prints it).
func ParseSerial(s string) (*big.Int, error) {
	clean := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	clean = strings.TrimPrefix(clean, "0x")
	n, ok := new(big.Int).SetString(clean, 16)
	if !ok || clean == "" || n.Sign() <= 0 {
		return nil, fmt.Errorf("invalid serial %q: want the hexadecimal serial that laborlink pki status prints", s)
	}
	return n, nil
}
