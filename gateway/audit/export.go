package audit

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// csvHeader names the CSV columns, one per Entry field.
var csvHeader = []string{"index", "time", "kind", "envelope_id", "refers_to", "record_type",
	"origin", "destination", "agreement_id", "agreement_version", "purpose", "decision",
	"reasons", "policy_federation", "policy_province", "payload_digest", "size", "peer",
	"latency_ms", "due", "serial", "detail"}

func csvRow(e Entry) []string {
	reasons := make([]string, len(e.Reasons))
	for i, r := range e.Reasons {
		reasons[i] = string(r)
	}
	digest := ""
	if !e.PayloadDigest.IsZero() {
		digest = e.PayloadDigest.String()
	}
	row := []string{strconv.FormatInt(e.Index, 10), e.Time.UTC().Format(time.RFC3339Nano),
		string(e.Kind), e.EnvelopeID, e.RefersTo, e.RecordType, string(e.Origin),
		string(e.Destination), e.AgreementID, strconv.FormatInt(e.AgreementVersion, 10),
		e.Purpose, string(e.Decision), strings.Join(reasons, ";"), e.Policy.Federation,
		e.Policy.Province, digest, strconv.FormatInt(e.Size, 10), e.Peer,
		strconv.FormatInt(e.LatencyMS, 10), e.Due, e.Serial, string(e.Detail)}
	for i, c := range row {
		row[i] = csvCell(c)
	}
	return row
}

// csvCell guards a cell a spreadsheet would take for a formula (it starts
// with = + - @, a tab or a carriage return; a token may start with -) by
// putting a ' before it, as OWASP's advice on CSV injection has it: the
// spreadsheet shows the text, ' hidden. No field of an entry starts with
// ' (tokens and codes cannot hold one), so a reader that wants the value
// drops a leading ' before one of those characters.
func csvCell(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// EntrySource yields entries in order, stopping at the first error yield
// returns. All is one over a slice; a node streams its log with Log.Each.
type EntrySource func(yield func(Entry) error) error

// All yields the entries of a slice.
func All(entries []Entry) EntrySource {
	return func(yield func(Entry) error) error {
		for _, e := range entries {
			if err := yield(e); err != nil {
				return err
			}
		}
		return nil
	}
}

// ExportCSV writes entries as CSV with a header row, for spreadsheets.
// Reasons are joined with ";". A cell that starts with = + - @, a tab or a
// carriage return is written after a ' (csvCell), so that no spreadsheet
// runs it as a formula.
func ExportCSV(w io.Writer, entries EntrySource) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	if err := entries(func(e Entry) error { return cw.Write(csvRow(e)) }); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// ExportJSONL writes one entry per line in its canonical encoding: for an
// unaltered entry, exactly the bytes the log hashed, so an auditor can run
// Verify on the file (read it back with ReadJSONL).
func ExportJSONL(w io.Writer, entries EntrySource) error {
	bw := bufio.NewWriter(w)
	err := entries(func(e Entry) error {
		b, err := e.Marshal()
		if err != nil {
			return fmt.Errorf("export entry %d: %w", e.Index, err)
		}
		bw.Write(b)
		return bw.WriteByte('\n')
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// ReadJSONL reads an export back: raw entries positioned by the index each
// one states (the file's line order is not what the tree commits to), and
// the decoded entries for Query, Stats and Reconcile. A line that does not
// decode is kept raw at its line number, so Verify still reports it. A line
// whose position is negative or repeats an earlier line's is refused,
// naming both lines: an export holds one line a position, so the file was
// altered (or two exports were joined), and taking either line would let a
// forged one stand for the genuine.
func ReadJSONL(r io.Reader) ([]RawEntry, []Entry, error) {
	var raws []RawEntry
	var entries []Entry
	lines := map[int64]int64{} // position: the line that holds it
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxExportLine)
	line := int64(0)
	for ; sc.Scan(); line++ {
		data := append([]byte(nil), sc.Bytes()...)
		if len(data) == 0 {
			continue
		}
		e, err := ParseEntry(data)
		pos := line
		if err == nil {
			pos = e.Index
			entries = append(entries, e)
		}
		if err := claimLine(lines, pos, line, err == nil); err != nil {
			return nil, nil, fmt.Errorf("read audit export: %w", err)
		}
		raws = append(raws, RawEntry{Position: pos, Data: data})
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, nil, fmt.Errorf("read audit export: line %d is longer than %d bytes, which no entry is: the export was altered", line+1, maxExportLine)
	} else if err != nil {
		return nil, nil, fmt.Errorf("read audit export: line %d: %w", line+1, err)
	}
	return raws, entries, nil
}

// maxExportLine bounds a line ReadJSONL reads: an entry's encoding is a
// few hundred bytes, its tokens bounded (maxToken).
const maxExportLine = 1 << 20

// claimLine records in lines that line (0-based) holds pos, refusing a
// negative position or one an earlier line holds; stated says whether the
// line states pos as its index or, not decoding, is placed at its line
// number. Only a refusal formats anything: this runs for every line.
func claimLine(lines map[int64]int64, pos, line int64, stated bool) error {
	first, taken := lines[pos]
	if !taken && pos >= 0 {
		lines[pos] = line
		return nil
	}
	how := fmt.Sprintf("line %d states index %d", line+1, pos)
	if !stated {
		how = fmt.Sprintf("line %d does not decode and so stands at position %d", line+1, pos)
	}
	if pos < 0 {
		return fmt.Errorf("%s, which no log has: the export was altered", how)
	}
	return fmt.Errorf("%s, which line %d already holds: an export has one line a position, so the file was altered or joined with another", how, first+1)
}

// WriteTable writes entries as an aligned text table for a terminal.
func WriteTable(w io.Writer, entries []Entry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tTIME\tKIND\tPAIR\tTYPE\tAGREEMENT\tDECISION\tREASONS\tENVELOPE\tDIGEST")
	for _, e := range entries {
		pair := string(e.Origin) // an entry of one province's (a certificate, its policy)
		if e.Destination != "" {
			pair += ":" + string(e.Destination)
		}
		agreement := e.AgreementID
		if e.AgreementVersion > 0 {
			agreement += "@" + strconv.FormatInt(e.AgreementVersion, 10)
		}
		digest := ""
		if !e.PayloadDigest.IsZero() {
			digest = e.PayloadDigest.String()[:12]
		}
		reasons := make([]string, len(e.Reasons))
		for i, r := range e.Reasons {
			reasons[i] = string(r)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Index,
			e.Time.UTC().Format(time.RFC3339), shown(string(e.Kind)), shown(pair), shown(e.RecordType), shown(agreement),
			shown(string(e.Decision)), shown(strings.Join(reasons, ",")), shown(e.EnvelopeID), digest)
	}
	return tw.Flush()
}

// shown is s for a terminal: quoted, its control characters escaped, if it
// has any. The entries of a query come from a node unverified, and one
// could otherwise move the cursor, clear the screen or break the table's
// columns with a tab or a newline.
func shown(s string) string {
	for _, r := range s {
		if !unicode.IsGraphic(r) || unicode.IsSpace(r) {
			return strconv.QuoteToGraphic(s)
		}
	}
	return s
}
