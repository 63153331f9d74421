package audit

// positionClaims records which entry first claimed each position, so that
// every reader of a log's entries (an export's lines, Verify's Entries)
// refuses the same two things: a position no log has (a negative one) and
// one an earlier entry holds. A log holds one entry a position, so either
// means an entry was added, whatever its bytes.
type positionClaims struct {
	below  []int64         // positions under len(below): 1 + the claimant's ordinal, 0 if none
	beyond map[int64]int64 // positions at or above len(below): the claimant's ordinal
}

// newPositionClaims tracks positions below size in a slice, as a log of
// that size has them all, and any others in a map.
func newPositionClaims(size int64) *positionClaims {
	return &positionClaims{below: make([]int64, size)}
}

// claim records that the entry with ordinal ord (its place in reading
// order) claims pos. It returns ProblemOutOfRange for a negative pos,
// ProblemDuplicate and the ordinal of the first claimant for a pos already
// claimed, and "" for a pos now held by ord.
func (c *positionClaims) claim(pos, ord int64) (Problem, int64) {
	switch {
	case pos < 0:
		return ProblemOutOfRange, 0
	case pos < int64(len(c.below)):
		if first := c.below[pos]; first != 0 {
			return ProblemDuplicate, first - 1
		}
		c.below[pos] = ord + 1
	default:
		if first, ok := c.beyond[pos]; ok {
			return ProblemDuplicate, first
		}
		if c.beyond == nil {
			c.beyond = map[int64]int64{}
		}
		c.beyond[pos] = ord
	}
	return "", 0
}
