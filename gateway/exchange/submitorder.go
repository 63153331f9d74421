package exchange

import (
	"fmt"
	"slices"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/store"
)

// caseSteps follows, through screen, the cases a submission's referral
// updates move, so that each update is checked against its case as the
// updates before it in the submission leave it (accepted, then
// investigating), as the commit that queues them makes them, in order:
// checked against the case as stored, the later one would be refused
// though the commit takes it. A copy of an update (its reference again,
// with the same content: answerChanged) is no step of its own: it is
// checked as its first was, and the commit answers it duplicate when that
// one is queued.
type caseSteps struct {
	cases  map[string]*caseStep // by case key
	firsts map[string]checkedAs // by reference: how its first update was checked
}

// caseStep is a case the submission moves: as the updates screened so far
// leave it, and the index of its last update screened, taken or not.
type caseStep struct {
	c    *store.Case
	last int
}

// checkedAs is what an update is checked against: its case, and the index
// of the update of the case before it in the submission, which it follows
// (-1 for none). first is the index of the first update under its
// reference: another is a copy.
type checkedAs struct {
	first int
	c     *store.Case
	after int
}

// next is what update u, at index i of the submission under reference
// ref, is checked against; stored is its case as read before the
// submission (updatedCases).
func (s *caseSteps) next(i int, u *contracts.ReferralUpdate, ref string, stored *store.Case) checkedAs {
	if a, ok := s.firsts[ref]; ok {
		return a
	}
	if s.cases == nil {
		s.cases, s.firsts = make(map[string]*caseStep), make(map[string]checkedAs)
	}
	key := caseKey(u)
	st := s.cases[key]
	if st == nil {
		st = &caseStep{c: stored, last: -1}
		s.cases[key] = st
	}
	a := checkedAs{first: i, c: st.c, after: st.last}
	s.firsts[ref], st.last = a, i
	return a
}

// took moves the case of update u, at index i and checked as a, as the
// commit will; a copy moves nothing. Only the status is moved: it is all
// updateProblems asks of the case besides who opened it.
func (s *caseSteps) took(i int, u *contracts.ReferralUpdate, a checkedAs) {
	if a.first != i {
		return
	}
	moved := *a.c
	moved.Status = string(u.Status)
	s.cases[caseKey(u)].c = &moved
}

// earlierRefused is the problem of a referral update that follows record
// j of its submission, an earlier update of the same case, which was not
// accepted (invalid, denied, over quota, unavailable): it was meant for
// the case as that one would leave it, and taken alone it would move the
// case out of the submission's order.
func earlierRefused(j int) []contracts.FieldError {
	return []contracts.FieldError{{Path: "status", Message: fmt.Sprintf(
		"the record at index %d of this submission (counting from 0), an earlier update of the same case, was not accepted, and this update follows it; nothing was queued: submit both again, in their order, once that one is corrected", j)}}
}

// earlierRefusedError refuses, in the commit, a referral update whose
// earlier update of the same case in its submission (record index) its
// case did not take: refused before the commit, or in it (over quota).
type earlierRefusedError struct{ index int }

func (e *earlierRefusedError) Error() string { return earlierRefused(e.index)[0].Message }

// following is case change ch of an update that follows record j of its
// submission, sealed under envelope id prev ("" when it was not): the
// commit refuses it unless its case took that one, in the same commit.
func following(ch *store.CaseChange, j int, prev string) *store.CaseChange {
	apply := ch.Apply
	return &store.CaseChange{Key: ch.Key, Apply: func(c *store.Case) (*store.Case, error) {
		if c != nil && (prev == "" || !slices.ContainsFunc(c.Updates, func(u store.CaseUpdate) bool { return u.EnvelopeID == prev })) {
			return nil, &earlierRefusedError{index: j}
		}
		return apply(c)
	}}
}
