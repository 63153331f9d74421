package contracts

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// StreamDecoder reads JSON documents one at a time from a JSON array of
// documents, one document, or a sequence of documents such as JSON lines.
// It hands out raw documents; Decode, DecodeAgreement or CheckJSON then
// decode them strictly. A syntax error ends the stream: nothing after it can
// be trusted to start where a document starts.
//
// Each document is held in memory whole; Decode rejects those over
// MaxRecordSize.
type StreamDecoder struct {
	r       *bufio.Reader
	dec     *json.Decoder
	array   bool
	started bool
	err     error
	n       int
}

// NewStreamDecoder reads documents from r.
func NewStreamDecoder(r io.Reader) *StreamDecoder {
	return &StreamDecoder{r: bufio.NewReader(r)}
}

// Next returns the next document, or io.EOF after the last one.
func (s *StreamDecoder) Next() (json.RawMessage, error) {
	if s.err != nil {
		return nil, s.err
	}
	raw, err := s.next()
	if err != nil {
		s.err = err
		return nil, err
	}
	s.n++
	return raw, nil
}

// Count is how many documents Next has returned.
func (s *StreamDecoder) Count() int { return s.n }

func (s *StreamDecoder) next() (json.RawMessage, error) {
	if !s.started {
		s.started = true
		first, err := s.peekNonSpace()
		if err != nil {
			return nil, err
		}
		s.dec = json.NewDecoder(s.r)
		if first == '[' {
			s.array = true
			if _, err := s.dec.Token(); err != nil {
				return nil, s.syntax(err)
			}
		}
	}
	if s.array && !s.dec.More() {
		if _, err := s.dec.Token(); err != nil { // the closing bracket
			return nil, s.syntax(err)
		}
		if _, err := s.dec.Token(); !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("document %d: data after the closing bracket of the array", s.n+1)
		}
		return nil, io.EOF
	}
	var raw json.RawMessage
	if err := s.dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) && !s.array {
			return nil, io.EOF
		}
		return nil, s.syntax(err)
	}
	return raw, nil
}

func (s *StreamDecoder) syntax(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("document %d: not valid JSON (offset %d): %w", s.n+1, s.dec.InputOffset(), err)
}

func (s *StreamDecoder) peekNonSpace() (byte, error) {
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			return 0, err // io.EOF: an empty stream
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, s.r.UnreadByte()
	}
}

// CheckJSON decodes and validates one document of any type, records and
// agreements alike, and lists every problem: a decoding problem as one entry,
// or every validation problem. It returns nil for a valid document.
func CheckJSON(data []byte, now time.Time) []FieldError {
	schema, err := peekSchema(data)
	if err == nil && schema == SchemaAgreement {
		var a *Agreement
		if a, err = DecodeAgreement(data); err == nil {
			err = validateAgreementFile(a)
		}
	} else if err == nil {
		_, err = Parse(data, now)
	}
	return problemsOf(err)
}

// checkProposal decodes and validates an agreement document as a proposal
// or amendment of it: decoded strictly, as `agreement propose` decodes its
// file, then its terms and the divisions its scope must let cross, as
// CheckJSON checks an agreement, but with the members the registry fills
// in itself (AsProposal, which the registry applies a proposal with) left
// to it. A proposal file leaves version, status and approvals out (the
// admin guide's does) and is not refused for it. The registry runs the
// same two checks, at two times: the scope's divisions before the
// proposal enters the log and its terms as it is applied, since versions
// an older release let in must apply as they did. It returns nil for a
// valid proposal.
func checkProposal(data []byte) []FieldError {
	a, err := DecodeAgreement(data)
	if err == nil {
		a.AsProposal(1) // any version: the registry numbers it
		err = validateAgreementFile(a)
	}
	return problemsOf(err)
}

// CheckProposalOrRecord checks one document as `laborlink validate`
// takes it: a record as CheckJSON does, an agreement as a proposal
// (checkProposal), JSON or not, since the agreements admins check are the
// files they give `agreement propose`, which leave version, status and
// approvals to the registry.
func CheckProposalOrRecord(data []byte, now time.Time) []FieldError {
	if schema, err := peekSchema(data); err == nil && schema == SchemaAgreement {
		return checkProposal(data)
	}
	return CheckJSON(data, now)
}

// problemsOf lists the problems of a document's decoding or validation
// error, nil for none.
func problemsOf(err error) []FieldError {
	if err == nil {
		return nil
	}
	if fe := FieldErrors(err); fe != nil {
		return fe
	}
	var de *DecodeError
	if errors.As(err, &de) {
		msg := de.Message
		if de.Offset >= 0 {
			msg = fmt.Sprintf("%s (offset %d)", msg, de.Offset)
		}
		return []FieldError{{Path: de.Path, Message: msg}}
	}
	return []FieldError{{Message: err.Error()}}
}

// validateAgreementFile checks an agreement document's terms (Validate) and
// the divisions its scope must let cross (CheckScopeDivisions), which the
// registry holds a proposal to as well: every problem of both at once.
func validateAgreementFile(a *Agreement) error {
	problems := append(FieldErrors(a.Validate()), FieldErrors(a.CheckScopeDivisions())...)
	if len(problems) == 0 {
		return nil
	}
	return ValidationError(problems)
}
