package exchange

import (
	"strings"
	"testing"
)

// TestChangedRecordUnderOneIDInASubmission: a submission carrying two
// records under one id, the second changed, does not have the second
// answered "duplicate" of the first as if it were a copy: it is invalid,
// its problem on id naming the record that holds the id. A plain copy is
// still a duplicate.
func TestChangedRecordUnderOneIDInASubmission(t *testing.T) {
	f := newFederation(t, "51", "44")
	f.agreement("51", "44")
	g := f.generator("51", "44", 81)
	first := g.Transfer()
	changed := *first
	changed.Placement.Job = first.Placement.Job + "（调整）"
	res := f.submit("51", first, &changed, first)
	if res[0].Outcome != OutcomeAccepted {
		t.Fatalf("first record = %+v", res[0])
	}
	if r := res[1]; r.Outcome != OutcomeInvalid || r.EnvelopeID != "" || len(r.Problems) != 1 || r.Problems[0].Path != "id" ||
		!strings.Contains(r.Problems[0].Message, "record at index 0") {
		t.Errorf("changed record under the first's id = %+v, want invalid with a problem on id naming the record at index 0", r)
	}
	if r := res[2]; r.Outcome != OutcomeDuplicate || r.EnvelopeID != res[0].EnvelopeID {
		t.Errorf("copy of the first = %+v, want duplicate of %s", r, res[0].EnvelopeID)
	}
}
