package contracts

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// The division tables are data shipped inside the binary (see
// divisiondata/README.md for their source); nothing reads them from disk.
var (
	//go:embed divisiondata/divisions.csv
	divisionsCSV []byte
	//go:embed divisiondata/provinces.csv
	provincesCSV []byte
)

// DivisionLevel is the level of a GB/T 2260 administrative division.
type DivisionLevel string

// The division levels the table holds.
const (
	LevelProvince   DivisionLevel = "province"
	LevelPrefecture DivisionLevel = "prefecture"
	LevelCounty     DivisionLevel = "county"
)

// Division is one administrative division from the embedded GB/T 2260 table.
type Division struct {
	// Code is the 6-digit code: "510000", "511300" or "511321".
	Code  string
	Name  string
	Level DivisionLevel
	// Parent is the 6-digit code of the enclosing division; empty for provinces.
	Parent string
}

// divisionTable is the parsed, immutable form of the embedded CSV files. It is
// built once on first use and only read afterwards, so sharing it between
// goroutines needs no locking.
type divisionTable struct {
	byCode    map[string]Division
	provinces []string              // 2-digit codes, sorted
	counties  map[string][]Division // by 2-digit province, sorted by code
}

var divisions = sync.OnceValue(func() *divisionTable {
	t, err := parseDivisions(divisionsCSV, provincesCSV)
	if err != nil {
		// The files are embedded at build time and covered by tests.
		panic(err)
	}
	return t
})

func parseDivisions(divs, provs []byte) (*divisionTable, error) {
	t := &divisionTable{byCode: make(map[string]Division, 3400), counties: make(map[string][]Division)}
	prows, err := csv.NewReader(bytes.NewReader(provs)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("provinces.csv: %w", err)
	}
	for _, r := range prows[1:] {
		if len(r) < 2 || len(r[0]) != 2 {
			return nil, fmt.Errorf("provinces.csv: bad row %q", r)
		}
		t.provinces = append(t.provinces, r[0])
		t.byCode[r[0]+"0000"] = Division{Code: r[0] + "0000", Name: r[1], Level: LevelProvince}
	}
	slices.Sort(t.provinces)
	drows, err := csv.NewReader(bytes.NewReader(divs)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("divisions.csv: %w", err)
	}
	for _, r := range drows[1:] {
		if len(r) != 4 {
			return nil, fmt.Errorf("divisions.csv: bad row %q", r)
		}
		d := Division{Code: pad6(r[0]), Name: r[1], Level: DivisionLevel(r[2])}
		if r[3] != "" {
			d.Parent = pad6(r[3])
		}
		if d.Parent == d.Code {
			// A prefecture-level city without counties (东莞市 441900) is
			// listed again as its own county, which takes the code: its
			// parent is then the prefecture's, so no division is its own.
			d.Parent = t.byCode[d.Code].Parent
		}
		t.byCode[d.Code] = d
		if d.Level == LevelCounty {
			p := d.Code[:2]
			t.counties[p] = append(t.counties[p], d)
		}
	}
	for _, cs := range t.counties {
		slices.SortFunc(cs, func(a, b Division) int { return strings.Compare(a.Code, b.Code) })
	}
	return t, nil
}

func pad6(code string) string { return (code + "000000")[:6] }

// IsProvince reports whether code is the 2-digit code of a provincial-level
// division: one of the 31 mainland provinces or 66 (XPCC).
func IsProvince(code string) bool {
	if len(code) != 2 {
		return false
	}
	_, ok := slices.BinarySearch(divisions().provinces, code)
	return ok
}

// Provinces returns the 2-digit codes of every provincial-level division, sorted.
func Provinces() []string { return slices.Clone(divisions().provinces) }

// ProvinceName returns the Chinese name of a 2-digit province code.
func ProvinceName(code string) (string, bool) {
	if len(code) != 2 {
		return "", false
	}
	d, ok := divisions().byCode[code+"0000"]
	return d.Name, ok
}

// LookupDivision returns the division with a 6-digit code from the embedded table.
func LookupDivision(code string) (Division, bool) {
	d, ok := divisions().byCode[code]
	return d, ok
}

// Counties returns the county-level divisions of a 2-digit province, sorted by
// code; none for 66, whose divisions the table does not hold.
func Counties(province string) []Division {
	return slices.Clone(divisions().counties[province])
}

// tabled reports whether the division table lists the province's prefectures
// and counties. It does not for 66 (XPCC), whose codes are checked for form only.
func tabled(province string) bool { return len(divisions().counties[province]) > 0 }
