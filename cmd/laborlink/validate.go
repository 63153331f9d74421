package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// runValidate checks a file of records (JSON, a JSON array or JSON lines),
// or an agreement in JSON or YAML, against their contracts and prints one
// line per problem. An agreement is checked as a proposal, as
// `agreement propose -f` sends it.
func runValidate(_ context.Context, m *Main, args []string) error {
	fs := m.flagSet("validate", "[flags] FILE|-\n\nCheck records (JSON, a JSON array or JSON lines), or an agreement in JSON or YAML\n(as `agreement propose -f` reads it, checked as a proposal), against their contracts.\nPrints 'record N: field.path: problem' per problem; exits 1 if any record is invalid.")
	at := fs.String("now", "", "validate as of this day, YYYY-MM-DD (default: today)")
	// Flags may follow FILE, as with the other commands: "validate
	// t.jsonl --now D" was refused as not one FILE.
	pos, err := positional(fs, args, 1, "one FILE, or - for standard input")
	if err != nil {
		return err
	}
	name := pos[0]
	now := time.Now()
	if *at != "" {
		d, err := contracts.ParseDate(*at)
		if err != nil {
			return usageErrorf("-now: %v", err)
		}
		now = d.Time().Add(12 * time.Hour)
	}
	var src io.Reader = m.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		src = f
	}
	in, err := asJSON(name, src)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	out := bufio.NewWriter(m.Stdout)
	defer out.Flush()
	stream := contracts.NewStreamDecoder(in)
	invalid := 0
	for {
		raw, err := stream.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			out.Flush()
			return fmt.Errorf("%s: %w", name, err)
		}
		problems := contracts.CheckProposalOrRecord(raw, now)
		if len(problems) > 0 {
			invalid++
		}
		for _, p := range problems {
			fmt.Fprintf(out, "record %d: %s\n", stream.Count(), p.Error())
		}
	}
	if err := out.Flush(); err != nil {
		return err
	}
	switch {
	case stream.Count() == 0:
		return fmt.Errorf("%s: no records", name)
	case invalid > 0:
		return fmt.Errorf("%s: %d of %d records invalid", name, invalid, stream.Count())
	}
	return nil
}

// asJSON is the file's records as JSON. A YAML file (.yaml or .yml, or
// input that does not start as JSON does, with { or [) is an agreement as
// admins write one for `agreement propose -f`: it is turned into JSON by
// agreementJSON, the conversion propose runs, so that the two cannot read
// a file differently. JSON is streamed as it is.
func asJSON(name string, src io.Reader) (io.Reader, error) {
	in := bufio.NewReader(src)
	if !isYAML(name, in) {
		return in, nil
	}
	data, err := io.ReadAll(in)
	if err != nil {
		return nil, err
	}
	if data, err = agreementJSON(name, data); err != nil {
		return nil, err
	}
	return bytes.NewReader(data), nil
}

// isYAML reports whether the input is YAML: named so, or not starting,
// after white space, with the { or [ every JSON document, array and line
// of records starts with. Empty input is not: it holds no records either
// way.
func isYAML(name string, in *bufio.Reader) bool {
	if ext := strings.ToLower(filepath.Ext(name)); ext == ".yaml" || ext == ".yml" {
		return true
	}
	for n := 1; ; n++ {
		b, err := in.Peek(n)
		if len(b) < n || err != nil {
			return false
		}
		switch c := b[n-1]; c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return false
		}
		return true
	}
}
