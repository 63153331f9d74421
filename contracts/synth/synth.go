// Package synth generates realistic, valid synthetic LaborLink records for
// tests, demonstrations and load: Chinese names, ID numbers from real counties
// of the origin province, employers with valid credit codes in the destination,
// training, organizers of every kind, lifecycle events in order, and the
// confirmations, agreements, referrals and updates that go with them.
//
// Generation is deterministic: the same Config gives the same records, in the
// same order, on every machine. Nothing here is personal data.
package synth

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/laborlink/laborlink/contracts"
)

// DefaultToday is the day generated records are dated around when Config.Today
// is zero: the Spring Festival peak of 2026, when corridors are busiest.
var DefaultToday = contracts.Date{Year: 2026, Month: time.March, Day: 1}

// Config says what to generate.
type Config struct {
	// Origin is the 2-digit province workers come from.
	Origin string
	// Destination is the 2-digit province they go to; it differs from Origin.
	Destination string
	// Seed makes the output reproducible.
	Seed uint64
	// Today is the day records are generated around: contracts start in the
	// year before it, confirmations are dated up to it. Zero means DefaultToday.
	Today contracts.Date
	// IDBase numbers the records' IDs from IDBase+1 ("TR-51-20260301-000001"
	// for 0). IDs name the origin and the day, not the destination: corridors
	// of one origin generated for the same day need bases far enough apart,
	// or their records share IDs and the origin takes the second for a
	// resubmission of the first.
	IDBase int
}

// Generator makes records for one corridor. It is not safe for concurrent use;
// give each goroutine its own.
type Generator struct {
	cfg        Config
	rng        *rand.Rand
	seq        int                  // records generated, for their IDs
	agreements int                  // agreements generated, for theirs
	origin     []contracts.Division // counties of the origin province
	dest       []contracts.Division // counties of the destination province
	agreement  string
}

// cst is China Standard Time, the zone generated instants are written in.
var cst = time.FixedZone("CST", 8*60*60)

// New returns a Generator for the corridor, or an error naming a bad province.
func New(cfg Config) (*Generator, error) {
	if !contracts.IsProvince(cfg.Origin) {
		return nil, fmt.Errorf("origin %q is not a province code", cfg.Origin)
	}
	if !contracts.IsProvince(cfg.Destination) {
		return nil, fmt.Errorf("destination %q is not a province code", cfg.Destination)
	}
	if cfg.Origin == cfg.Destination {
		return nil, fmt.Errorf("origin and destination are both %s: a corridor crosses a border", cfg.Origin)
	}
	if cfg.IDBase < 0 {
		return nil, fmt.Errorf("IDBase %d is negative", cfg.IDBase)
	}
	if cfg.Today.IsZero() {
		cfg.Today = DefaultToday
	}
	return &Generator{
		cfg:       cfg,
		seq:       cfg.IDBase,
		rng:       rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		origin:    countiesOf(cfg.Origin),
		dest:      countiesOf(cfg.Destination),
		agreement: fmt.Sprintf("AG-%s-%s-%d-001", cfg.Origin, cfg.Destination, cfg.Today.Year),
	}, nil
}

// countiesOf returns the province's counties from the division table, or made-up
// well-formed ones for a province the table does not detail (66, XPCC).
func countiesOf(province string) []contracts.Division {
	if cs := contracts.Counties(province); len(cs) > 0 {
		return cs
	}
	name, _ := contracts.ProvinceName(province)
	var cs []contracts.Division
	for i := 1; i <= 9; i++ {
		code := fmt.Sprintf("%s01%02d", province, i)
		cs = append(cs, contracts.Division{Code: code, Name: fmt.Sprintf("%s第%d师", name, i), Level: contracts.LevelCounty, Parent: province + "0100"})
	}
	return cs
}

// AgreementID is the ID of the agreement the generated records travel under,
// the one Agreement generates first.
func (g *Generator) AgreementID() string { return g.agreement }

func (g *Generator) nextID(prefix, province string) string {
	g.seq++
	return fmt.Sprintf("%s-%s-%s-%06d", prefix, province, strings.ReplaceAll(g.cfg.Today.String(), "-", ""), g.seq)
}

func (g *Generator) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *Generator) chance(p float64) bool { return g.rng.Float64() < p }

// between returns a uniform integer in [lo, hi].
func (g *Generator) between(lo, hi int) int { return lo + g.rng.IntN(hi-lo+1) }

func (g *Generator) daysBefore(d contracts.Date, n int) contracts.Date {
	return contracts.DateOf(d.Time().AddDate(0, 0, -n))
}

func (g *Generator) daysAfter(d contracts.Date, n int) contracts.Date {
	return contracts.DateOf(d.Time().AddDate(0, 0, n))
}

// at returns an instant during working hours on day d, in China Standard Time.
func (g *Generator) at(d contracts.Date) time.Time {
	return time.Date(d.Year, d.Month, d.Day, g.between(8, 17), g.between(0, 59), g.between(0, 59), 0, cst)
}

func (g *Generator) county(in []contracts.Division) contracts.Division {
	return in[g.rng.IntN(len(in))]
}

// placeName is the name a local body would put before its own: the county's,
// or the province's where the county is a bare district.
func placeName(d contracts.Division) string {
	if p, ok := contracts.LookupDivision(d.Parent); ok && p.Level == contracts.LevelPrefecture && p.Name != "市辖区" && p.Name != "县" && !strings.HasPrefix(p.Name, "省直辖") {
		return p.Name + d.Name
	}
	name, _ := contracts.ProvinceName(d.Code[:2])
	return name + d.Name
}

func provinceShort(code string) string {
	name, _ := contracts.ProvinceName(code)
	for _, suffix := range []string{"维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "生产建设兵团", "省", "市"} {
		if s, ok := strings.CutSuffix(name, suffix); ok {
			return s
		}
	}
	return name
}
