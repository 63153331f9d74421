package contracts

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// The national code checks. Each check has an exported form returning an error
// for callers outside the package, and an unexported form returning the
// problem as a message that the validators attach to a field path.

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const idCheckChars = "10X98765432"

// IDNumberCheckChar computes the GB 11643 check character of the first 17
// characters of a resident ID number, which must be digits.
func IDNumberCheckChar(first17 string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(first17[i]-'0') * idWeights[i]
	}
	return idCheckChars[sum%11]
}

// CheckIDNumber reports whether s is a well-formed GB 11643 resident ID number:
// 18 characters, an address code whose province exists, a real birth date from
// 1900 on, and a matching check character. It cannot know whether the number
// was ever issued.
func CheckIDNumber(s string) error {
	if _, _, msg := parseIDNumber(s); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// parseIDNumber checks an ID number and returns the birth date and sex it
// encodes. Its messages quote no more of the number than a character or the
// province: a submitter's client logs them.
//
// The address code is the division of household registration when the number
// was issued. Divisions have been renamed and renumbered many times since, so a
// number issued under a code that no longer exists is still valid: only the
// province and the form of the code are checked, not the county.
func parseIDNumber(s string) (birth Date, sex Sex, msg string) {
	if pos, r := firstNonASCII(s); pos > 0 {
		return Date{}, "", fmt.Sprintf("character %d is %q, want a digit (or a final upper-case X)", pos, r)
	}
	if len(s) != 18 {
		return Date{}, "", fmt.Sprintf("has %d characters, want 18", len(s))
	}
	for i := 0; i < 17; i++ {
		if s[i] < '0' || s[i] > '9' {
			return Date{}, "", fmt.Sprintf("character %d is %q, want a digit", i+1, s[i])
		}
	}
	if c := s[17]; (c < '0' || c > '9') && c != 'X' {
		return Date{}, "", fmt.Sprintf("check character is %q, want a digit or upper-case X", c)
	}
	if !IsProvince(s[:2]) {
		return Date{}, "", fmt.Sprintf("address code names no province: %s is not a province code", s[:2])
	}
	y, _ := strconv.Atoi(s[6:10])
	m, _ := strconv.Atoi(s[10:12])
	d, _ := strconv.Atoi(s[12:14])
	birth = Date{y, time.Month(m), d}
	if y < 1900 || !birth.valid() {
		return Date{}, "", "birth date (characters 7-14) is not a real date from 1900 on"
	}
	if want := IDNumberCheckChar(s); s[17] != want {
		return Date{}, "", fmt.Sprintf("check character is %c, want %c", s[17], want)
	}
	sex = SexFemale
	if (s[16]-'0')%2 == 1 {
		sex = SexMale
	}
	return birth, sex, ""
}

// firstNonASCII returns the position, counted in characters from 1, and
// the first character of s that is not ASCII, or 0. Codes are checked
// byte by byte, which would count a full-width digit (a common slip of a
// Chinese input method) as three characters and name a byte of it.
func firstNonASCII(s string) (pos int, r rune) {
	for _, r := range s {
		pos++
		if r >= utf8.RuneSelf {
			return pos, r
		}
	}
	return 0, 0
}

// creditChars is the GB 32100 alphabet; a character's value is its index.
const creditChars = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var creditWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

var creditValue = func() (v [256]int8) {
	for i := range v {
		v[i] = -1
	}
	for i := 0; i < len(creditChars); i++ {
		v[creditChars[i]] = int8(i)
	}
	return v
}()

// CreditCodeCheckChar computes the GB 32100 check character of the first 17
// characters of a unified social credit code, which must be from its alphabet.
func CreditCodeCheckChar(first17 string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(creditValue[first17[i]]) * creditWeights[i]
	}
	return creditChars[(31-sum%31)%31]
}

// CheckCreditCode reports whether s is a well-formed GB 32100 unified social
// credit code: 18 characters from its alphabet, a registration division
// (positions 3-8) in an existing province or 100000 for national
// registrations, and a matching check character.
func CheckCreditCode(s string) error {
	if msg := creditCodeProblem(s); msg != "" {
		return errors.New(msg)
	}
	return nil
}

func creditCodeProblem(s string) string {
	if pos, r := firstNonASCII(s); pos > 0 {
		return fmt.Sprintf("character %d is %q, not one of %s", pos, r, creditChars)
	}
	if len(s) != 18 {
		return fmt.Sprintf("has %d characters, want 18", len(s))
	}
	for i := 0; i < 18; i++ {
		if creditValue[s[i]] < 0 {
			return fmt.Sprintf("character %d is %q, not one of %s", i+1, s[i], creditChars)
		}
	}
	for i := 2; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Sprintf("registration division %s is not 6 digits", s[2:8])
		}
	}
	switch div := s[2:8]; {
	case div[:2] == "10" && div != "100000":
		return fmt.Sprintf("registration division %s is not a province's, and national registrations use 100000", div)
	case div[:2] != "10" && !IsProvince(div[:2]):
		return fmt.Sprintf("registration division %s names no province", div)
	}
	if want := CreditCodeCheckChar(s); s[17] != want {
		return fmt.Sprintf("check character is %c, want %c", s[17], want)
	}
	return ""
}

// CheckIndustry reports whether s is a GB/T 4754-2017 industry code at one of
// its levels: a section letter A-T alone, or with a division (2 digits) of
// that section, a group (3) or a class (4).
func CheckIndustry(s string) error {
	if msg := industryProblem(s); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// industryDivisions is, per section letter A-T, the first and last of the
// divisions GB/T 4754-2017 numbers 01-97 across the sections: manufacturing
// (C) holds 13-43, so "A1810" and "C01" name no industry.
var industryDivisions = [20][2]int{
	{1, 5}, {6, 12}, {13, 43}, {44, 46}, {47, 50}, {51, 52}, {53, 60}, {61, 62}, {63, 65}, {66, 69},
	{70, 70}, {71, 72}, {73, 75}, {76, 79}, {80, 82}, {83, 83}, {84, 85}, {86, 90}, {91, 96}, {97, 97},
}

func industryProblem(s string) string {
	const want = "want a section letter A-T, alone or with 2 to 4 digits"
	if len(s) < 1 || len(s) > 5 || len(s) == 2 || s[0] < 'A' || s[0] > 'T' {
		return fmt.Sprintf("%q is not a GB/T 4754 code: %s", s, want)
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Sprintf("%q is not a GB/T 4754 code: %s", s, want)
		}
	}
	if len(s) == 1 {
		return ""
	}
	div := int(s[1]-'0')*10 + int(s[2]-'0')
	if r := industryDivisions[s[0]-'A']; div < r[0] || div > r[1] {
		return fmt.Sprintf("%q is not a GB/T 4754 code: division %s is not in section %c, which holds divisions %02d-%02d", s, s[1:3], s[0], r[0], r[1])
	}
	return ""
}

// CheckMobile reports whether s is a mainland mobile number: 11 digits
// starting with 1.
func CheckMobile(s string) error {
	if msg := mobileProblem(s); msg != "" {
		return errors.New(msg)
	}
	return nil
}

func mobileProblem(s string) string {
	if len(s) != 11 || s[0] != '1' {
		return "want 11 digits starting with 1"
	}
	for i := 1; i < 11; i++ {
		if s[i] < '0' || s[i] > '9' {
			return "want 11 digits starting with 1"
		}
	}
	return ""
}

// valid reports whether the date exists in the calendar.
func (d Date) valid() bool {
	if d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Year < 1 || d.Year > 9999 {
		return false
	}
	return d.Day <= daysIn(d.Year, d.Month)
}

func daysIn(y int, m time.Month) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}
