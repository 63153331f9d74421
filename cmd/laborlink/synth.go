package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/contracts/synth"
	"github.com/laborlink/laborlink/federation/registry"
)

// synthTypes are the record types synth can generate, in the order help lists them.
var synthTypes = []contracts.RecordType{
	contracts.RecordTransfer, contracts.RecordConfirmation, contracts.RecordAgreement,
	contracts.RecordReferral, contracts.RecordReferralUpdate,
}

// runSynth writes generated records as JSON lines: test data that passes
// validation, for trying a node or loading one.
func runSynth(_ context.Context, m *Main, args []string) error {
	fs := m.flagSet("synth", "[flags]\n\nWrite valid synthetic records as JSON lines to stdout.")
	typ := fs.String("type", "transfer", "record type: "+typeList())
	count := fs.Int("count", 10, "how many records to write (1 or more)")
	origin := fs.String("origin", "51", "2-digit province workers come from")
	dest := fs.String("dest", "44", "2-digit province workers go to")
	seed := fs.Uint64("seed", 1, "random seed: the same seed writes the same records")
	today := fs.String("today", "", "day the records are dated around, YYYY-MM-DD; their times reach its end, and a node refuses times ahead of its clock, so a past day makes records to submit now. "+
		"Default "+synth.DefaultToday.String()+", so that a seed writes the same records every run; for --type agreement, today (China time), so that the agreement (1 January of that year to the end of the second year after) is in force when proposed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q; synth takes flags only", fs.Arg(0))
	}
	rt := contracts.RecordType(*typ)
	if contracts.SchemaFor(rt) == "" {
		return usageErrorf("-type %q is not a record type; want one of %s", *typ, typeList())
	}
	if *count <= 0 {
		return usageErrorf("-count %d: want 1 or more", *count)
	}
	for _, f := range []struct{ name, code string }{{"origin", *origin}, {"dest", *dest}} {
		if !contracts.IsProvince(f.code) {
			return usageErrorf("-%s %q is not a province code; want 2 digits such as 51 (Sichuan) or 44 (Guangdong)", f.name, f.code)
		}
	}
	if *origin == *dest {
		return usageErrorf("-origin and -dest are both %s; records cross between two provinces", *origin)
	}
	day, err := synthToday(*today, rt, m.now())
	if err != nil {
		return usageErrorf("-today: %v", err)
	}
	g, err := synth.New(synth.Config{Origin: *origin, Destination: *dest, Seed: *seed, Today: day})
	if err != nil {
		return usageErrorf("%v", err)
	}
	w := bufio.NewWriter(m.Stdout)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for range *count {
		rec, err := g.Record(rt)
		if err != nil {
			return err
		}
		if err := enc.Encode(rec); err != nil {
			return fmt.Errorf("write record: %w", err)
		}
	}
	return w.Flush()
}

// synthToday is the day synth dates records around: flag, if given;
// otherwise for an agreement now's day in China, so that one generated any
// year is in force when proposed (on synth.DefaultToday it expired at the
// end of 2028); for records synth.DefaultToday, which keeps a seed's records,
// and the ids guides and tests quote, the same from run to run.
func synthToday(flag string, rt contracts.RecordType, now time.Time) (contracts.Date, error) {
	switch {
	case flag != "":
		return contracts.ParseDate(flag)
	case rt == contracts.RecordAgreement:
		return registry.DayOf(now), nil
	}
	return synth.DefaultToday, nil
}

func typeList() string {
	names := make([]string, len(synthTypes))
	for i, t := range synthTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}
