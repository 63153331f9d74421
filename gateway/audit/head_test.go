package audit

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
)

func TestSignedHeadIsAC2SPCheckpoint(t *testing.T) {
	ctx := context.Background()
	l, _, h := signedLog(t, 5)
	root, _ := l.RootAt(ctx, 5)
	// Read it with the verifiers other C2SP tools use, not ours.
	n, err := note.Open(h.Note, note.VerifierList(testVerifier(t)))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s\n5\n%s\n", testOrigin, base64.StdEncoding.EncodeToString(root[:]))
	if n.Text != want {
		t.Errorf("checkpoint body %q, want %q", n.Text, want)
	}
	cp, _, _, err := log.ParseCheckpoint(h.Note, testOrigin, testVerifier(t))
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 5 || string(cp.Hash) != string(root[:]) {
		t.Errorf("transparency-dev parsed %+v", cp)
	}
}

func TestSignedHeadOnlySignsWhenTheTreeGrew(t *testing.T) {
	ctx := context.Background()
	l, _ := newTestLog(t)
	empty, err := l.SignedHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if empty.Size != 0 || empty.Root != emptyRoot {
		t.Errorf("empty head %d %x, want RFC 6962 empty root", empty.Size, empty.Root)
	}
	appendN(t, l, 3)
	a, _ := l.SignedHead(ctx)
	b, _ := l.SignedHead(ctx)
	if string(a.Note) != string(b.Note) {
		t.Error("a second head was signed for the same tree")
	}
	appendN(t, l, 1)
	c, _ := l.SignedHead(ctx)
	heads, err := l.Heads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int64
	for _, h := range heads {
		sizes = append(sizes, h.Size)
	}
	if fmt.Sprint(sizes) != "[0 3 4]" || c.Size != 4 {
		t.Errorf("stored heads %v, latest %d; want [0 3 4], 4", sizes, c.Size)
	}
}

func TestScheduledHeads(t *testing.T) {
	db, _ := newTestDB(t)
	ticks := make(chan time.Time)
	l, err := open(db, testConfig(t), ticks)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tick := func() { ticks <- time.Time{} }
	appendN(t, l, 2)
	tick()
	tick() // the unbuffered send returns only once the first tick was handled
	appendN(t, l, 2)
	tick()
	tick()
	heads, err := l.Heads(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != 2 || heads[0].Size != 2 || heads[1].Size != 4 {
		t.Errorf("scheduled heads %+v, want sizes 2 and 4", heads)
	}
}

func TestConfigValidate(t *testing.T) {
	good := testConfig(t)
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no origin", func(c *Config) { c.Origin = "" }, "origin is required"},
		{"no signer", func(c *Config) { c.Signer = nil }, "signer is required"},
		{"key named differently", func(c *Config) { c.Origin = "laborlink.test/p44/gw-1" }, "expect them equal"},
		{"negative head interval", func(c *Config) { c.HeadInterval = -time.Second }, "head interval -1s is negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
	if err := good.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestVerifierKeyIsTheGeneratedOne(t *testing.T) {
	skey, vkey := testKeys()[0], testKeys()[1]
	got, err := VerifierKey(skey + "\n")
	if err != nil || got != vkey {
		t.Fatalf("VerifierKey = %q, %v; want %q", got, err, vkey)
	}
	for name, bad := range map[string]string{
		"verifier key": vkey,
		"not base64":   strings.Replace(skey, "+A", "+!", 1),
		"short key":    skey[:len(skey)-8],
		"empty":        "",
		"other prefix": "PUBLIC" + strings.TrimPrefix(skey, "PRIVATE"),
	} {
		if _, err := VerifierKey(bad); err == nil || !strings.Contains(err.Error(), "signer key") {
			t.Errorf("%s: err = %v, want one about the signer key", name, err)
		}
	}
}
