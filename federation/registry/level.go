package registry

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// CommandLevel is the command level of this release: the level of the
// newest registry command it knows. Every release that adds a command bumps
// it and gives the new op that level in opLevels.
const CommandLevel = 6

// opLevels gives each command the command level of the release that
// introduced it. A node of an older release does not know a newer op: it
// would record the command as unknown and change nothing while the others
// apply it, and the replicas would part for good. So the leader proposes an
// op above level 1 only once every node reports a level at least as high
// (checkCommandLevel, remembering what nodes reported: levelCache); the
// state machine itself never looks at levels.
var opLevels = map[Op]int{
	OpInit:          1,
	OpMemberAddV1:   1,
	OpNodeJoin:      1,
	OpNodePromote:   1,
	OpNodeDemote:    1,
	OpNodeRemove:    1,
	OpPolicyPublish: 1,
	OpCertRevoke:    1,
	OpPropose:       1,
	OpApproveV1:     1,
	OpSuspend:       1,
	OpResume:        1,
	OpTerminate:     1,
	OpAmendV1:       1,
	OpCertIssued:    2,
	OpMemberRemove:  3,
	OpMemberExpel:   4,
	OpApprove:       5,
	OpAmend:         6,
	OpMemberAdd:     6,
}

// replacedOps maps an op of an older release to the op that replaced it.
// Apply goes on applying the old op as it always did, since the log holds
// it, but the leader no longer proposes it: member.remove would leave the
// removed province's CA keys trusted on its return, the first
// agreement.approve let the last approval of an amendment lift the other
// party's suspension, the first agreement.amend amended an agreement
// terminated after a withdrawn amendment, and the first member.add listed
// another province's CA (which expelling the member would then retire).
var replacedOps = map[Op]Op{
	OpMemberRemove: OpMemberExpel,
	OpApproveV1:    OpApprove,
	OpAmendV1:      OpAmend,
	OpMemberAddV1:  OpMemberAdd,
}

// levelProbeTimeout bounds how long the leader waits for each node's
// status when it checks command levels; the nodes are asked concurrently.
const levelProbeTimeout = 2 * time.Second

// NodeLevel is the command level one node of the registry's node directory
// reports.
type NodeLevel struct {
	ID      string `json:"id"`
	APIAddr string `json:"api_addr"`
	// Level is the node's CommandLevel; 0 from a release that does not
	// report one, or when the node could not be asked.
	Level int `json:"level"`
	// Problem says why the node could not be asked ("did not answer at
	// host:port"); empty when it answered.
	Problem string `json:"problem,omitempty"`
}

// commandLevel is the level this node reports: CommandLevel unless a test
// configured an older one.
func (r *Registry) commandLevel() int {
	if r.cfg.commandLevel > 0 {
		return r.cfg.commandLevel
	}
	return CommandLevel
}

// checkCommandLevel refuses, before it enters the raft log, a command that
// some node's release does not know (checkBeforeLog runs it on the leader,
// where every write is proposed, whichever node accepted it). An op a newer
// one replaced is refused too, whatever the levels.
func (r *Registry) checkCommandLevel(ctx context.Context, env *Envelope) error {
	if by, ok := replacedOps[env.Op]; ok {
		return Errorf(EInvalid, "%s is replaced by %s (command level %d): send %s instead, as laborlink of this release does",
			env.Op, by, opLevels[by], by)
	}
	need := opLevels[env.Op]
	if need <= 1 {
		return nil
	}
	return levelRefusal(env.Op, need, r.levelsOf(ctx, r.rememberedLevel))
}

// CommandLevels asks every node of the registry's node directory for the
// command level it reports, concurrently, each within a short timeout. The
// answer is in node ID order; this node answers for itself. It asks even
// nodes whose level the leader remembers: it is what an admin following
// an upgrade sees.
func (r *Registry) CommandLevels(ctx context.Context) []NodeLevel {
	return r.levelsOf(ctx, r.askLevel)
}

// levelsOf finds every node's level with level, concurrently, in node ID
// order.
func (r *Registry) levelsOf(ctx context.Context, level func(context.Context, Node) NodeLevel) []NodeLevel {
	nodes := r.store.Nodes()
	out := make([]NodeLevel, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { out[i] = level(ctx, n) })
	}
	wg.Wait()
	return out
}

// rememberedLevel is n's level as the leader remembers it (levelCache),
// or as n reports it now.
func (r *Registry) rememberedLevel(ctx context.Context, n Node) NodeLevel {
	if n.ID == r.cfg.NodeID {
		return r.askLevel(ctx, n)
	}
	return r.levels.level(n, func() NodeLevel { return r.askLevel(ctx, n) })
}

func (r *Registry) askLevel(ctx context.Context, n Node) NodeLevel {
	nl := NodeLevel{ID: n.ID, APIAddr: n.APIAddr}
	switch {
	case n.ID == r.cfg.NodeID:
		nl.Level = r.commandLevel()
		return nl
	case n.APIAddr == "":
		nl.Problem = "has no API address in the registry"
		return nl
	}
	if r.cfg.levelAsked != nil {
		r.cfg.levelAsked(n.ID)
	}
	ctx, cancel := context.WithTimeout(ctx, levelProbeTimeout)
	defer cancel()
	var st Status
	if err := r.call(ctx, http.MethodGet, n.APIAddr, pathStatus, nil, &st); err != nil {
		r.log.Warn("command level: node did not answer", "peer", n.ID, "addr", n.APIAddr, "code", ErrorCode(err), "err", err)
		nl.Problem = "did not answer at " + n.APIAddr
		return nl
	}
	if st.ID != n.ID {
		nl.Problem = fmt.Sprintf("did not answer at %s (%s answers there)", n.APIAddr, st.ID)
		return nl
	}
	nl.Level = st.CommandLevel
	return nl
}

// levelRefusal is the refusal of op, of level need, naming every node that
// reports a lower level or could not be asked; nil if there is none.
func levelRefusal(op Op, need int, levels []NodeLevel) error {
	var why []string
	var behind, absent bool
	for _, l := range levels {
		switch {
		case l.Problem != "":
			why, absent = append(why, l.ID+" "+l.Problem), true
		case l.Level == 0:
			why, behind = append(why, l.ID+" runs a release that does not report its command level"), true
		case l.Level < need:
			why, behind = append(why, fmt.Sprintf("%s reports level %d", l.ID, l.Level)), true
		}
	}
	if len(why) == 0 {
		return nil
	}
	todo := "upgrade them"
	switch {
	case behind && absent:
		todo = "upgrade the nodes behind, and wait until the others are back"
	case absent:
		todo = "wait until they are back, or remove them from the registry if they are gone for good"
	}
	return Errorf(EConflict, "%s needs every node on a release that knows it (command level %d): %s (%s)",
		op, need, strings.Join(why, ", "), todo)
}
