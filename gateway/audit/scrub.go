package audit

// Scrub clears each identifier of e that Validate refuses (the token
// fields and peer) and returns the names of those it cleared, nil when it
// cleared none. It is for an entry about a flow whose own identifiers are
// bad, such as a peer's envelope refused for them: written without them,
// the entry still records the flow and its decision, where refused whole
// it would leave the flow out of the log. What it cleared is for the
// operator's log; the values are not, and Scrub does not return them.
func (e *Entry) Scrub() []string {
	var cleared []string
	for _, t := range e.tokens() {
		if checkToken(*t.v) != nil {
			*t.v = ""
			cleared = append(cleared, t.field)
		}
	}
	if e.Peer != "" && checkPeer(e.Peer) != nil {
		e.Peer = ""
		cleared = append(cleared, "peer")
	}
	return cleared
}
