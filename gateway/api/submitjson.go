package api

import (
	"encoding/json"
	"strconv"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/exchange"
)

// appendJSON appends the bytes encodeJSON writes for r (newline included,
// and results [] when there are none, as emptyLists has it), without
// encoding/json's reflection: every submission is answered with one, most
// of them a single accepted record. Strings are written by
// contracts.AppendJSONString, as json.Marshal writes them; the problems and
// reasons of refused records are left to encoding/json (TestSubmitResponseJSON).
func (r SubmitResponse) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"results":[`...)
	for i := range r.Results {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendResult(b, &r.Results[i]); err != nil {
			return nil, err
		}
	}
	return append(b, "]}\n"...), nil
}

func appendResult(b []byte, res *exchange.SubmitResult) ([]byte, error) {
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, int64(res.Index), 10)
	b = appendStringMember(b, `,"ref":`, res.Ref, true)
	b = appendStringMember(b, `,"destination":`, res.Destination, true)
	b = appendStringMember(b, `,"outcome":`, string(res.Outcome), false)
	b = appendStringMember(b, `,"envelope_id":`, res.EnvelopeID, true)
	var err error
	if len(res.Problems) > 0 {
		if b, err = appendMarshaled(b, `,"problems":`, res.Problems); err != nil {
			return nil, err
		}
	}
	if len(res.Reasons) > 0 {
		if b, err = appendMarshaled(b, `,"reasons":`, res.Reasons); err != nil {
			return nil, err
		}
	}
	b = appendStringMember(b, `,"error":`, res.Error, true)
	return append(b, '}'), nil
}

// appendStringMember appends name and s as a JSON string, or nothing when s
// is empty and omitEmpty is set.
func appendStringMember(b []byte, name, s string, omitEmpty bool) []byte {
	if s == "" && omitEmpty {
		return b
	}
	return contracts.AppendJSONString(append(b, name...), s)
}

func appendMarshaled(b []byte, name string, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	b = append(b, name...)
	return append(b, data...), nil
}
