package registry

import "testing"

// TestRotationRefusalNamesVotersNotAsked: a delisting is refused while a
// voter of the province cannot be asked which certificate it presents,
// naming it and what to do. In a cluster the command level check, which
// asks every node for its level, refuses a member.add.v2 first when a node
// is down; this refusal is for a voter whose level the leader remembers
// but whose raft address does not answer.
func TestRotationRefusalNamesVotersNotAsked(t *testing.T) {
	err := rotationRefusal("51", nil, nil, []string{"p51/node/gw-2 (no TLS handshake with it at 10.0.0.5:7000: connection refused)"})
	want := "member.add refused: it would delist a CA of province 51, and these raft voters could not be asked which certificate they present: " +
		"p51/node/gw-2 (no TLS handshake with it at 10.0.0.5:7000: connection refused); wait until they answer, or remove them from the registry if they are gone for good (laborlink registry remove NODE-ID). " +
		"Then send the update again: delisting a CA that voters still use would cut them off the registry, raft included"
	if ErrorCode(err) != EConflict || err.Error() != want {
		t.Fatalf("got %s %q\nwant %s %q", ErrorCode(err), err, EConflict, want)
	}
}
