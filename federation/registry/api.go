package registry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/raft"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/pki"
)

// The registry API paths. The node mounts Handler on its HTTPS API; the CLI
// (Client) and other nodes (forwarding) call them.
const (
	pathApply      = "/v1/registry/apply"
	pathReadIndex  = "/v1/registry/read-index"
	pathStatus     = "/v1/registry/status"
	pathMembers    = "/v1/registry/members"
	pathNodes      = "/v1/registry/nodes"
	pathAgreements = "/v1/registry/agreements"
	pathCovers     = "/v1/registry/covers"
	pathBackup     = "/v1/registry/backup"
	pathRestore    = "/v1/registry/restore"
	pathJoin       = "/v1/registry/join"
	pathLeadership = "/v1/registry/leadership"
	pathLevels     = "/v1/registry/levels"
)

// Read is the answer to every read: the data and how fresh it is.
type Read[T any] struct {
	Freshness Freshness `json:"freshness"`
	Data      T         `json:"data"`
}

// Handler serves the registry API over the node's mutual-TLS server. Every
// caller is identified by its verified client certificate: reads are open
// to any identity of the federation; writes (signed commands) to admins and
// nodes, whose signatures apply verifies; the read index to nodes; backup
// and restore to admins of steward provinces. A read with ?consistent=true
// is linearizable; any other read is local and says how fresh it is.
func (r *Registry) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range r.routes() {
		mux.HandleFunc(rt.pattern, rt.serve)
	}
	return mux
}

// route is one route of the registry API, "METHOD /path", with what serves it.
type route struct {
	pattern string
	serve   http.HandlerFunc
}

// routes pairs each route with its handler and who may call it, in one
// table, so that a route and its handler cannot drift apart. Building it
// only makes closures over r: it reads nothing of r, which is what lets
// Routes list the patterns from a zero Registry.
func (r *Registry) routes() []route {
	return []route{
		{"POST " + pathApply, r.allow(r.serveApply, pki.KindAdmin, pki.KindNode)},
		{"GET " + pathReadIndex, r.allow(r.serveReadIndex, pki.KindNode)},
		{"GET " + pathStatus, r.allow(r.serveStatus)},
		{"GET " + pathLevels, r.allow(r.serveLevels, pki.KindAdmin, pki.KindOperator)},
		{"GET " + pathMembers, r.allow(read(r, func(*http.Request) (any, error) { return r.store.Members(), nil }))},
		{"GET " + pathNodes, r.allow(read(r, func(*http.Request) (any, error) { return r.store.Nodes(), nil }))},
		{"GET " + pathAgreements, r.allow(read(r, r.listAgreements))},
		{"GET " + pathAgreements + "/{id}", r.allow(read(r, func(req *http.Request) (any, error) { return r.store.Agreement(req.PathValue("id")) }))},
		{"GET " + pathCovers, r.allow(read(r, r.covers))},
		{"GET " + pathBackup, r.allow(r.steward(r.serveBackup), pki.KindAdmin)},
		{"POST " + pathRestore, r.allow(r.steward(r.serveRestore), pki.KindAdmin)},
		{"POST " + pathJoin, r.allow(r.serveJoin, pki.KindAdmin, pki.KindOperator)},
		{"POST " + pathLeadership, r.allow(r.steward(r.serveLeadership), pki.KindAdmin)},
	}
}

// Routes lists every route of the registry API, "METHOD /path", in the
// order Handler registers them; api/openapi.yaml must describe exactly these
// (a test of the node checks).
var Routes = func() []string {
	rs := (&Registry{}).routes()
	ps := make([]string, len(rs))
	for i, rt := range rs {
		ps[i] = rt.pattern
	}
	return ps
}()

// maxSmallBody bounds the bodies of join and leadership requests, a few
// addresses or a node name: a caller cannot have the node read more.
const maxSmallBody = 64 << 10

// joinRequest asks a node to join the registry through seed nodes.
type joinRequest struct {
	Seeds []string `json:"seeds"`
}

// serveJoin lets an admin or operator of the node's own province have it
// join; the join itself is signed by the node.
func (r *Registry) serveJoin(w http.ResponseWriter, req *http.Request) {
	id := req.Context().Value(callerKey{}).(pki.Identity)
	self, _ := parseNodeID(r.cfg.NodeID)
	if id.Province != self.Province {
		writeError(w, Errorf(EForbidden, "%s may not make node %s join: only its own province's admins and operators may", id, r.cfg.NodeID))
		return
	}
	var jr joinRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxSmallBody)).Decode(&jr); err != nil {
		writeError(w, Errorf(EInvalid, "join needs seeds: API addresses of nodes already in the registry"))
		return
	}
	if err := r.Join(req.Context(), jr.Seeds...); err != nil { // no seeds: invalid
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, r.Status())
}

// leadershipRequest names the voter to hand leadership to; empty lets raft
// pick the most up-to-date one.
type leadershipRequest struct {
	To string `json:"to,omitempty"`
}

// serveLeadership hands leadership over, for maintenance of the leader's
// node. Only the leader takes it: the admin's own request must reach it (the
// client finds the leader first), since a forwarded request would carry a
// node's certificate rather than the steward admin's.
func (r *Registry) serveLeadership(w http.ResponseWriter, req *http.Request) {
	var lr leadershipRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxSmallBody)).Decode(&lr); err != nil {
		writeError(w, Errorf(EInvalid, "leadership transfer: %v", err))
		return
	}
	if err := r.requireLeader(); err != nil {
		writeError(w, err)
		return
	}
	if err := r.TransferLeadership(req.Context(), lr.To); err != nil {
		if ErrorCode(err) == EInternal {
			err = Errorf(EUnavailable, "%v", err)
		}
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, r.Status())
}

type callerKey struct{}

// allow authenticates the caller and checks its kind.
func (r *Registry) allow(h http.HandlerFunc, kinds ...pki.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if req.TLS == nil {
			writeError(w, Errorf(EUnauthenticated, "the registry API needs a client certificate (mutual TLS)"))
			return
		}
		id, err := pki.PeerIdentity(*req.TLS)
		if err != nil {
			writeError(w, Errorf(EUnauthenticated, "%v", err))
			return
		}
		if len(kinds) > 0 && !containsKind(kinds, id.Kind) {
			writeError(w, Errorf(EForbidden, "%s may not call %s: it takes a %s certificate", id, req.URL.Path, kinds[0]))
			return
		}
		h(w, req.WithContext(context.WithValue(req.Context(), callerKey{}, id)))
	}
}

// steward lets admins of steward provinces through, and no one else.
func (r *Registry) steward(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		id := req.Context().Value(callerKey{}).(pki.Identity)
		if id.Kind != pki.KindAdmin || !r.store.IsSteward(id.Province) {
			writeError(w, Errorf(EForbidden, "%s may not %s: only admins of steward provinces may", id, req.URL.Path))
			return
		}
		h(w, req)
	}
}

// requireLeader refuses, naming the leader, a request only the leader may
// serve itself.
func (r *Registry) requireLeader() error {
	if r.raft.State() == raft.Leader {
		return nil
	}
	addr, err := r.leaderAPI()
	if err != nil {
		return Errorf(EUnavailable, "this node is not the leader, and no leader is known: %v", err)
	}
	return Errorf(ENotLeader, "this node is not the leader; send the request to the leader's API at %s", addr)
}

func containsKind(kinds []pki.Kind, k pki.Kind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

func (r *Registry) serveApply(w http.ResponseWriter, req *http.Request) {
	var env Envelope
	if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, 4<<20)).Decode(&env); err != nil {
		writeError(w, Errorf(EInvalid, "malformed command: %v", err))
		return
	}
	res, err := r.Submit(req.Context(), &env)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (r *Registry) serveReadIndex(w http.ResponseWriter, req *http.Request) {
	idx, err := r.readIndexLeader()
	if err != nil {
		writeError(w, Errorf(EUnavailable, "%v", err))
		return
	}
	writeJSON(w, http.StatusOK, readIndexResponse{Index: idx})
}

func (r *Registry) serveStatus(w http.ResponseWriter, req *http.Request) {
	writeJSON(w, http.StatusOK, r.Status())
}

// serveLevels answers each node's command level, asked now (see
// CommandLevels): during an upgrade, which nodes are still behind.
func (r *Registry) serveLevels(w http.ResponseWriter, req *http.Request) {
	writeJSON(w, http.StatusOK, r.CommandLevels(req.Context()))
}

// read wraps a local query: optionally linearizable, always with freshness.
func read(r *Registry, q func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Query().Get("consistent") == "true" {
			if err := r.Consistent(req.Context()); err != nil {
				writeError(w, err)
				return
			}
		}
		f := r.Freshness()
		data, err := q(req)
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("X-Registry-Applied-Index", strconv.FormatUint(f.AppliedIndex, 10))
		w.Header().Set("X-Registry-Stale", strconv.FormatBool(f.Stale))
		writeJSON(w, http.StatusOK, Read[any]{Freshness: f, Data: data})
	}
}

func (r *Registry) listAgreements(req *http.Request) (any, error) {
	q := req.URL.Query()
	at, err := queryTime(q.Get("at"))
	if err != nil {
		return nil, err
	}
	f := Filter{Party: q.Get("party"), Origin: q.Get("origin"), Destination: q.Get("destination"),
		Status: contracts.AgreementStatus(q.Get("status")), RecordType: contracts.RecordType(q.Get("record_type")), Purpose: contracts.Purpose(q.Get("purpose"))}
	places := [][2]string{{"party", f.Party}, {"origin", f.Origin}, {"destination", f.Destination}}
	if err := checkQuery(false, places, f.Status, f.RecordType, f.Purpose); err != nil {
		return nil, err
	}
	return r.store.List(f, at), nil
}

func (r *Registry) covers(req *http.Request) (any, error) {
	q := req.URL.Query()
	at, err := queryTime(q.Get("at"))
	if err != nil {
		return nil, err
	}
	origin, dest, rt, purpose := q.Get("origin"), q.Get("destination"), contracts.RecordType(q.Get("record_type")), contracts.Purpose(q.Get("purpose"))
	if err := checkQuery(true, [][2]string{{"origin", origin}, {"destination", dest}}, "", rt, purpose); err != nil {
		return nil, err
	}
	if err := checkEveryGiven([][2]string{{"origin", origin}, {"destination", dest}, {"record_type", string(rt)}, {"purpose", string(purpose)}}); err != nil {
		return nil, err
	}
	ms := r.store.Covers(origin, dest, rt, purpose, at)
	out := make([]CoverMatch, len(ms))
	for i, m := range ms {
		out[i] = CoverMatch{AgreementID: m.AgreementID, Version: m.Version, Agreement: m.Agreement}
	}
	return out, nil
}

// CoverMatch is Match on the wire.
type CoverMatch struct {
	AgreementID string               `json:"agreement_id"`
	Version     int                  `json:"version"`
	Agreement   *contracts.Agreement `json:"agreement"`
}

func queryTime(s string) (time.Time, error) {
	if s == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, Errorf(EInvalid, "at=%q is not an RFC 3339 time", s)
	}
	return t, nil
}

func (r *Registry) serveBackup(w http.ResponseWriter, req *http.Request) {
	if err := r.Consistent(req.Context()); err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if err := r.store.Backup(w); err != nil {
		r.log.Warn("backup failed", "err", err)
	}
}

func (r *Registry) serveRestore(w http.ResponseWriter, req *http.Request) {
	if err := r.Restore(req.Context(), http.MaxBytesReader(w, req.Body, 1<<30)); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, r.Status())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: EInternal, Message: err.Error()}
	}
	writeJSON(w, httpStatus(e.Code), e)
}
