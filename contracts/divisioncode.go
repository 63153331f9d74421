package contracts

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// levels is a set of division levels a field accepts.
type levels uint8

const (
	atProvince levels = 1 << iota
	atPrefecture
	atCounty
	anyLevel = atProvince | atPrefecture | atCounty
)

func (l levels) has(d DivisionLevel) bool {
	switch d {
	case LevelProvince:
		return l&atProvince != 0
	case LevelPrefecture:
		return l&atPrefecture != 0
	}
	return l&atCounty != 0
}

// String names the levels for messages, such as "prefecture or county".
func (l levels) String() string {
	var s []string
	if l&atProvince != 0 {
		s = append(s, "province")
	}
	if l&atPrefecture != 0 {
		s = append(s, "prefecture")
	}
	if l&atCounty != 0 {
		s = append(s, "county")
	}
	return strings.Join(s, " or ")
}

// CheckDivision reports whether code is a 6-digit GB/T 2260 division code of
// any level that the embedded table holds. For 66 (XPCC), whose divisions the
// table does not list, any well-formed code of that province is accepted.
func CheckDivision(code string) error {
	if msg := divisionProblem(code, "", anyLevel); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// divisionProblem checks a division code against the table: well formed, in
// province (when not empty), listed in the table, and of an allowed level.
// Codes missing from the table are rejected: a record names where someone
// lives or works now, and the table is the current list. Only province 66,
// absent from the table, is checked for form alone.
//
// A malformed code is not quoted: what fills a division field by mistake
// is often the ID number or phone next to it, and a submitter's client logs
// the message.
func divisionProblem(code, province string, allowed levels) string {
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			r, _ := utf8.DecodeRuneInString(code[i:])
			return fmt.Sprintf("character %d is %q, want a 6-digit division code", utf8.RuneCountInString(code[:i])+1, r)
		}
	}
	if len(code) != 6 {
		return fmt.Sprintf("has %d digits, want a 6-digit division code", len(code))
	}
	p := code[:2]
	if !IsProvince(p) {
		return fmt.Sprintf("%s: province %s does not exist", code, p)
	}
	if province != "" && p != province {
		return fmt.Sprintf("%s is in province %s, want a division of %s", code, p, province)
	}
	var level DivisionLevel
	switch {
	case code[2:] == "0000":
		level = LevelProvince
	case tabled(p):
		d, ok := divisions().byCode[code]
		if !ok {
			return fmt.Sprintf("%s is not in the division table (GB/T 2260, china-division 2.7.0)", code)
		}
		level = d.Level
	case code[2:4] == "00":
		return fmt.Sprintf("%s has prefecture part 00 under a county part", code)
	case code[4:] == "00":
		level = LevelPrefecture
	default:
		level = LevelCounty
	}
	if !allowed.has(level) {
		return fmt.Sprintf("%s is a %s code, want a %s code", code, level, allowed)
	}
	return ""
}
