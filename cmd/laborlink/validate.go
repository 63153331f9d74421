package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// runValidate checks a file of records (JSON, a JSON array or JSON lines)
// against their contracts and prints one line per problem.
func runValidate(_ context.Context, m *Main, args []string) error {
	fs := m.flagSet("validate", "[flags] FILE|-\n\nCheck records (JSON, a JSON array or JSON lines) against their contracts.\nPrints 'record N: field.path: problem' per problem; exits 1 if any record is invalid.")
	at := fs.String("now", "", "validate as of this day, YYYY-MM-DD (default: today)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErrorf("want one FILE, or - for standard input")
	}
	now := time.Now()
	if *at != "" {
		d, err := contracts.ParseDate(*at)
		if err != nil {
			return usageErrorf("-now: %v", err)
		}
		now = d.Time().Add(12 * time.Hour)
	}
	in := m.Stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
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
			return fmt.Errorf("%s: %w", fs.Arg(0), err)
		}
		problems := contracts.CheckJSON(raw, now)
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
		return fmt.Errorf("%s: no records", fs.Arg(0))
	case invalid > 0:
		return fmt.Errorf("%d of %d records invalid", invalid, stream.Count())
	}
	return nil
}
