package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/laborlink/laborlink/pki"
)

// Client calls a node's registry API over mutual TLS: the CLI uses it, as
// will any tool. Commands are signed locally with Signer, so the private key
// never leaves the caller; the node only forwards the signed command.
type Client struct {
	// Base is the node's API, "https://host:port".
	Base string
	// HTTP presents the caller's certificate and verifies the node's.
	HTTP *http.Client
	// Signer signs commands; reads do not need it.
	Signer *pki.Signer
	// Now is the clock for SignedAt. Default time.Now.
	Now func() time.Time
}

// NewClient returns a client of the node at base, authenticating with t.
func NewClient(base string, t *pki.TLS, signer *pki.Signer) (*Client, error) {
	tc, err := t.ClientConfig(pki.PeerPolicy{Kinds: []pki.Kind{pki.KindNode}})
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("node address %q: want https://host:port", base)
	}
	return &Client{Base: strings.TrimRight(base, "/"), Signer: signer,
		HTTP: &http.Client{Transport: pki.RefusalHints{Next: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}}}, nil
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Submit signs a command and submits it. A refused command is returned as
// its *Error.
func (c *Client) Submit(ctx context.Context, op Op, body any) (*Result, error) {
	if c.Signer == nil {
		return nil, fmt.Errorf("%s needs a signing key", op)
	}
	env, err := NewEnvelope(op, body)
	if err != nil {
		return nil, err
	}
	if err := env.Sign(c.Signer, c.now()); err != nil {
		return nil, err
	}
	return c.SubmitEnvelope(ctx, env)
}

// SubmitEnvelope submits an already signed command (a resubmission keeps
// its nonce and is applied once).
func (c *Client) SubmitEnvelope(ctx context.Context, env *Envelope) (*Result, error) {
	var res Result
	if err := doJSON(ctx, c.HTTP, http.MethodPost, c.Base+pathApply, env, &res); err != nil {
		return nil, err
	}
	if res.Err != nil {
		return &res, res.Err
	}
	return &res, nil
}

// Status returns the node's view of the registry.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	return &s, doJSON(ctx, c.HTTP, http.MethodGet, c.Base+pathStatus, nil, &s)
}

// Levels asks the node to ask every node of the registry for its command
// level (Registry.CommandLevels).
func (c *Client) Levels(ctx context.Context) ([]NodeLevel, error) {
	var ls []NodeLevel
	return ls, doJSON(ctx, c.HTTP, http.MethodGet, c.Base+pathLevels, nil, &ls)
}

func get[T any](ctx context.Context, c *Client, path string, q url.Values) (*Read[T], error) {
	var r Read[T]
	u := c.Base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return &r, doJSON(ctx, c.HTTP, http.MethodGet, u, nil, &r)
}

// Members lists the member provinces; consistent asks for a linearizable read.
func (c *Client) Members(ctx context.Context, consistent bool) (*Read[[]Member], error) {
	var q url.Values
	if consistent {
		q = url.Values{"consistent": {"true"}}
	}
	return get[[]Member](ctx, c, pathMembers, q)
}

// Nodes lists the registered nodes.
func (c *Client) Nodes(ctx context.Context) (*Read[[]Node], error) {
	return get[[]Node](ctx, c, pathNodes, nil)
}

// List lists agreements; consistent asks for a linearizable read.
func (c *Client) List(ctx context.Context, f Filter, consistent bool) (*Read[[]Summary], error) {
	q := url.Values{}
	for k, v := range map[string]string{"party": f.Party, "origin": f.Origin, "destination": f.Destination,
		"status": string(f.Status), "record_type": string(f.RecordType), "purpose": string(f.Purpose)} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if consistent {
		q.Set("consistent", "true")
	}
	return get[[]Summary](ctx, c, pathAgreements, q)
}

// Agreement returns one agreement with its history.
func (c *Client) Agreement(ctx context.Context, id string, consistent bool) (*Read[*AgreementRecord], error) {
	q := url.Values{}
	if consistent {
		q.Set("consistent", "true")
	}
	return get[*AgreementRecord](ctx, c, pathAgreements+"/"+url.PathEscape(id), q)
}

// Backup streams a linearizable backup to w.
func (c *Client) Backup(ctx context.Context, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+pathBackup, nil)
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer discard(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return decodeError(resp)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// Restore replaces the registry's state with a backup.
func (c *Client) Restore(ctx context.Context, backup io.Reader) error {
	base, err := c.leaderBase(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+pathRestore, backup)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer discard(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return decodeError(resp)
	}
	return nil
}

// TransferLeadership asks the registry to hand leadership to the voter to,
// or with to empty to the most up-to-date voter; it answers the status of
// the node that was leader.
func (c *Client) TransferLeadership(ctx context.Context, to string) (*Status, error) {
	base, err := c.leaderBase(ctx)
	if err != nil {
		return nil, err
	}
	var s Status
	return &s, doJSON(ctx, c.HTTP, http.MethodPost, base+pathLeadership, leadershipRequest{To: to}, &s)
}

// leaderBase finds the leader's API through the node the client talks to:
// requests only the leader serves go there directly, so the leader sees the
// caller's own certificate.
func (c *Client) leaderBase(ctx context.Context) (string, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return "", err
	}
	if st.LeaderID == "" {
		return "", Errorf(EUnavailable, "no leader is known to %s", c.Base)
	}
	if st.LeaderID == st.ID {
		return c.Base, nil
	}
	nodes, err := c.Nodes(ctx)
	if err != nil {
		return "", err
	}
	for _, n := range nodes.Data {
		if n.ID == st.LeaderID && n.APIAddr != "" {
			return "https://" + n.APIAddr, nil
		}
	}
	return "", Errorf(EUnavailable, "the leader %s has no API address in the registry", st.LeaderID)
}

// Join asks the node to join the registry through the seeds' APIs.
func (c *Client) Join(ctx context.Context, seeds ...string) (*Status, error) {
	var s Status
	return &s, doJSON(ctx, c.HTTP, http.MethodPost, c.Base+pathJoin, joinRequest{Seeds: seeds}, &s)
}

// seedVoters reads the voters of the registry from seed, a node of it,
// before this node asks to join: until the configuration arrives, only
// they may send this node raft requests (joinedVoter). A seed that lists
// no voter does not hold the registry yet and cannot admit this node.
func (r *Registry) seedVoters(ctx context.Context, seed string) ([]raft.ServerID, error) {
	var st Status
	if err := r.call(ctx, http.MethodGet, seed, pathStatus, nil, &st); err != nil {
		return nil, err
	}
	var voters []raft.ServerID
	for _, s := range st.Servers {
		if s.Voter {
			voters = append(voters, raft.ServerID(s.ID))
		}
	}
	if len(voters) == 0 {
		return nil, Errorf(EUnavailable, "seed %s lists no voter: it holds no registry yet", seed)
	}
	return voters, nil
}

// Join asks the registry, through any of the seed nodes' APIs, to admit
// this node as a non-voter. The request is signed with the node's own key;
// the leader records it and adds the node to raft, after which the log and
// snapshots reach it.
func (r *Registry) Join(ctx context.Context, seeds ...string) error {
	if len(seeds) == 0 {
		return Errorf(EInvalid, "join needs seeds: API addresses of nodes already in the registry")
	}
	env, err := NewEnvelope(OpNodeJoin, NodeSpec{ID: r.cfg.NodeID, RaftAddr: r.cfg.RaftAddr, APIAddr: r.cfg.APIAddr})
	if err != nil {
		return err
	}
	// The certificate in use now, not the one the node started with: a
	// node waiting to join may have had its certificate reissued since,
	// and the old one revoked or expired, which apply refuses.
	signer, err := nodeSigner(r.cfg.TLS)
	if err != nil {
		return err
	}
	if err := env.Sign(signer, r.cfg.now()); err != nil {
		return err
	}
	var last error
	for _, s := range seeds {
		var voters []raft.ServerID
		if voters, last = r.seedVoters(ctx, s); last != nil {
			continue
		}
		if err := r.pinJoinVoters(voters); err != nil {
			return err
		}
		var res Result
		if last = r.call(ctx, http.MethodPost, s, pathApply, env, &res); last != nil {
			continue
		}
		if res.Err != nil {
			return res.Err
		}
		return nil
	}
	if e := (*Error)(nil); !errors.As(last, &e) {
		// No seed answered: the seeds are down or unreachable from here,
		// which a retry may mend; not this node's fault.
		return Errorf(EUnavailable, "join the registry: no seed of %v answered: %v", seeds, last)
	}
	return fmt.Errorf("join the registry through %v: %w", seeds, last)
}
