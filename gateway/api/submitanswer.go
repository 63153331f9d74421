package api

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/laborlink/laborlink/gateway/exchange"
)

// readSubmitAnswer reads a submission's answer as appendJSON writes it,
// without encoding/json's reflection: the load tool reads a hundred results
// per batch, on the cores of the nodes it measures. It reads that one shape
// only (members in appendJSON's order, strings with nothing escaped, no
// problems or reasons) and says false for anything else, which the caller
// then gives to json.Unmarshal (the results null of an earlier release's
// empty batch among them); what it accepts, json.Unmarshal would decode
// to the same results (TestReadSubmitAnswer, FuzzReadSubmitAnswer).
//
// The results' strings share one copy of data, made once instead of one for
// each string.
func readSubmitAnswer(data []byte) ([]exchange.SubmitResult, bool) {
	r := answerReader{s: string(data)}
	if !r.lit(`{"results":[`) {
		return nil, false
	}
	results := make([]exchange.SubmitResult, 0, strings.Count(r.s, `{"index":`))
	for !r.lit("]}") {
		if len(results) > 0 && !r.lit(",") {
			return nil, false
		}
		res, ok := r.result()
		if !ok {
			return nil, false
		}
		results = append(results, res)
	}
	return results, r.end()
}

// answerReader consumes a submission's answer from the front of s.
type answerReader struct{ s string }

// result reads one result; a member appendJSON would not write at its place
// (problems and reasons among them) makes it fail.
func (r *answerReader) result() (res exchange.SubmitResult, ok bool) {
	if !r.lit(`{"index":`) {
		return res, false
	}
	if res.Index, ok = r.int(); !ok {
		return res, false
	}
	var outcome string
	ok = r.member(`,"ref":`, &res.Ref, true) &&
		r.member(`,"destination":`, &res.Destination, true) &&
		r.member(`,"outcome":`, &outcome, false) &&
		r.member(`,"envelope_id":`, &res.EnvelopeID, true) &&
		r.member(`,"error":`, &res.Error, true) &&
		r.lit("}")
	res.Outcome = exchange.Outcome(outcome)
	return res, ok
}

// member reads the string member name into s; an optional member may be
// absent.
func (r *answerReader) member(name string, s *string, optional bool) bool {
	if !r.lit(name) {
		return optional
	}
	var ok bool
	*s, ok = r.str()
	return ok
}

// str reads a JSON string that needs no unescaping: no backslash, no control
// character, valid UTF-8 (json.Unmarshal would replace invalid bytes).
func (r *answerReader) str() (string, bool) {
	if !r.lit(`"`) {
		return "", false
	}
	ascii := true
	for i := 0; i < len(r.s); i++ {
		switch c := r.s[i]; {
		case c == '"':
			s := r.s[:i]
			r.s = r.s[i+1:]
			return s, ascii || utf8.ValidString(s)
		case c < 0x20 || c == '\\':
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// int reads an integer as strconv.AppendInt writes it: no leading zero, no
// fraction or exponent, within int's range.
func (r *answerReader) int() (int, bool) {
	n := 0
	if strings.HasPrefix(r.s, "-") {
		n++
	}
	digits := n
	for n < len(r.s) && '0' <= r.s[n] && r.s[n] <= '9' {
		n++
	}
	if n == digits || (r.s[digits] == '0' && n > digits+1) {
		return 0, false
	}
	v, err := strconv.Atoi(r.s[:n])
	r.s = r.s[n:]
	return v, err == nil
}

// lit consumes p if s starts with it.
func (r *answerReader) lit(p string) bool {
	if !strings.HasPrefix(r.s, p) {
		return false
	}
	r.s = r.s[len(p):]
	return true
}

// end reports whether nothing but appendJSON's closing newline is left.
func (r *answerReader) end() bool { return r.s == "" || r.s == "\n" }
