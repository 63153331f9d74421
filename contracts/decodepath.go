package contracts

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// locate finds the first member of data that encoding/json rejected without
// naming it: an unknown field, or a date, a time or a []byte's base64 that
// does not parse. It returns the member's path with array indices
// ("events[2].at"), its offset and what is wrong, or ok false. It runs only
// after decoding failed.
func locate(data []byte, t RecordType) (path string, off int64, msg string, ok bool) {
	type frame struct {
		key       string // member being read, for objects
		idx       int    // element being read, for arrays
		array     bool
		expectKey bool
	}
	var stack []frame
	schemaPath := func() string {
		var b strings.Builder
		for _, f := range stack {
			if !f.array && f.key != "" {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			}
		}
		return b.String()
	}
	fullPath := func() string {
		var b strings.Builder
		for _, f := range stack {
			switch {
			case f.array && f.idx >= 0:
				b.WriteString("[" + strconv.Itoa(f.idx) + "]")
			case !f.array && f.key != "":
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			}
		}
		return b.String()
	}
	valueStarts := func() {
		if n := len(stack); n > 0 && stack[n-1].array {
			stack[n-1].idx++
		}
	}
	valueEnds := func() {
		if n := len(stack); n > 0 && !stack[n-1].array {
			stack[n-1].expectKey = true
		}
	}
	kinds := valueKinds()[t]
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return "", 0, "", false
		}
		switch tok {
		case json.Delim('{'):
			valueStarts()
			stack = append(stack, frame{expectKey: true})
			continue
		case json.Delim('['):
			valueStarts()
			stack = append(stack, frame{array: true, idx: -1})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueEnds()
			continue
		}
		if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].expectKey {
			stack[n-1].key, _ = tok.(string)
			stack[n-1].expectKey = false
			if !IsFieldPath(t, schemaPath()) {
				return fullPath(), start, "unknown field; the contract has no such member", true
			}
			continue
		}
		valueStarts()
		if s, isString := tok.(string); isString {
			switch kinds[schemaPath()] {
			case kindDate:
				if _, err := ParseDate(s); err != nil {
					return fullPath(), start, err.Error(), true
				}
			case kindTime:
				if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
					return fullPath(), start, strconv.Quote(s) + " is not an RFC 3339 time such as 2026-03-01T08:00:00+08:00", true
				}
			case kindBytes:
				if _, err := base64.StdEncoding.DecodeString(s); err != nil {
					return fullPath(), start, "not standard base64: " + err.Error(), true
				}
			}
		}
		valueEnds()
	}
}
