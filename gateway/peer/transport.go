package peer

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/audit"
	"github.com/laborlink/laborlink/gateway/auth"
	"github.com/laborlink/laborlink/gateway/httpbody"
	"github.com/laborlink/laborlink/pki"
)

// NewHandler serves the peer API on Path.
func NewHandler(r Receiver, opts ...HandlerOption) http.Handler {
	c := newHandlerConfig(opts)
	encodeError := errorEncoder(c.log, Path)
	mux := http.NewServeMux()
	deliver := kithttp.NewServer(
		MakeDeliverEndpoint(r),
		decodeDeliverRequest,
		encodeDeliverResponse,
		kithttp.ServerBefore(auth.FromRequest, receiptBinding),
		kithttp.ServerErrorEncoder(encodeError),
	)
	// The budget is counted after the province's share, so that requests
	// of a province over its share take none of it.
	mux.Handle("POST "+Path, nodesOnly(encodeError, newPerProvince(c.maxPerProvince), withinBudget(&bodyBudget{max: c.maxBodies}, deliver)))
	return mux
}

// HandlerOption configures NewHandler and NewAuditHandler (which reads no
// body, so MaxBodies is NewHandler's alone).
type HandlerOption func(*handlerConfig)

type handlerConfig struct {
	log            *slog.Logger
	maxPerProvince int
	maxBodies      int64
}

func newHandlerConfig(opts []HandlerOption) handlerConfig {
	c := handlerConfig{log: slog.New(slog.DiscardHandler), maxPerProvince: DefaultMaxPerProvince, maxBodies: DefaultMaxBodies}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Logger has the handler log every request it fails with a fault of this
// node (500 or 503), with the whole error, which the caller is not told
// (see errorEncoder). Without it, or with nil, those are not logged.
func Logger(log *slog.Logger) HandlerOption {
	return func(c *handlerConfig) {
		if log != nil {
			c.log = log
		}
	}
}

// receiptBinding says in ctx whether the request asks for receipts bound
// to the whole envelope (ReceiptBindingHeader): a list of values, one of
// them ReceiptBindingEnvelope. Any other value, or none, is an origin of an
// earlier release, answered with receipts it can read.
func receiptBinding(ctx context.Context, r *http.Request) context.Context {
	for _, v := range r.Header.Values(ReceiptBindingHeader) {
		for token := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(token) == ReceiptBindingEnvelope {
				return WithReceiptBinding(ctx)
			}
		}
	}
	return ctx
}

// nodesOnly refuses callers that are not nodes, and the requests of a
// province beyond what limit takes at once, before their body is read, so
// that no other certificate can make a node buffer a large batch, and no
// province's nodes many.
func nodesOnly(encodeError kithttp.ErrorEncoder, limit *perProvince, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := auth.Require(auth.FromRequest(r.Context(), r), pki.KindNode)
		if err != nil {
			encodeError(r.Context(), err, w)
			return
		}
		if !limit.take(id.Province) {
			limit.refuse(w, id.Province)
			return
		}
		defer limit.release(id.Province)
		h.ServeHTTP(w, r)
	})
}

func decodeDeliverRequest(_ context.Context, r *http.Request) (any, error) {
	body, err := httpbody.ReadRequest(r, MaxBody)
	if errors.Is(err, httpbody.ErrTooLarge) {
		return nil, fmt.Errorf("%w; send fewer envelopes at once", err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read body: %v", ErrBadBatch, err)
	}
	req, err := decodeDeliverBody(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBatch, err)
	}
	return req, nil
}

func encodeDeliverResponse(_ context.Context, w http.ResponseWriter, response any) error {
	body := response.(DeliverResponse).appendJSON(nil)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	// Declared, so the origin reads the answer into one buffer of its size.
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, err := w.Write(body)
	return err
}

// errorBody is how the peer API reports a batch-level failure.
type errorBody struct {
	Error string `json:"error"`
}

// errorEncoder answers the requests to path that fail. A refusal (4xx)
// carries its error, which names what the calling node must change. A
// fault of this node (500 or 503) carries its kind and an id alone, and is
// logged here whole under that id: its error is this node's business (a
// failed store's names the data file and the fault), and the caller is
// another province's node, which logs what it is answered.
func errorEncoder(log *slog.Logger, path string) kithttp.ErrorEncoder {
	return func(ctx context.Context, err error, w http.ResponseWriter) {
		status := statusOf(err)
		msg := err.Error()
		if status >= http.StatusInternalServerError {
			id := rand.Text()
			var said Summarized
			summary := ""
			if errors.As(err, &said) {
				summary = said.Summary()
			}
			msg = faultMessage(status, id, summary)
			level := slog.LevelError
			if status == http.StatusServiceUnavailable {
				level = slog.LevelWarn // the caller sends again later
				if said != nil && errors.Unwrap(said) == nil {
					// Its summary is all there is (a registry replica
					// catching up at start): one line per batch refused
					// would be noise.
					level = slog.LevelDebug
				}
			}
			log.Log(ctx, level, "peer API: a request failed here; the calling node was answered with the error id alone",
				"path", path, "caller", caller(ctx), "status", status, "error_id", id, "err", err)
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(errorBody{Error: msg})
	}
}

// Summarized is an error with words of this node's own for what failed
// (exchange.Error's message: "store received envelopes"), without its
// causes: a calling node is told them with a fault.
type Summarized interface {
	error
	Summary() string
}

// faultMessage is what the calling node is told of a fault of this node:
// its kind, its summary if it has one, what to do, and the id its
// operators can ask this node's for.
func faultMessage(status int, id, summary string) string {
	if summary != "" {
		summary = " (" + summary + ")"
	}
	if status == http.StatusServiceUnavailable {
		return "unavailable: this node cannot take the request for now" + summary + "; send it again later (error id " + id + " in this node's log)"
	}
	return "internal: this node failed the request" + summary + " (error id " + id + " in this node's log)"
}

// caller names the node a failed request came from, for the log.
func caller(ctx context.Context) string {
	id, err := auth.FromContext(ctx)
	if err != nil {
		return "unknown"
	}
	return id.String()
}

// statusOf maps errors to HTTP status codes: the one table for this transport.
func statusOf(err error) int {
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return http.StatusUnauthorized
	case errors.Is(err, auth.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrBadBatch), errors.Is(err, errBadQuery), errors.Is(err, audit.ErrTooManyEntries):
		return http.StatusBadRequest
	case errors.Is(err, httpbody.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// newClientEndpoint calls the deliver endpoint of the node at base, and
// checks that the server's certificate is a node of the expected province,
// since nodes are reached by address and the address proves nothing.
func newClientEndpoint(base *url.URL, s server, client *http.Client) endpoint.Endpoint {
	tgt := base.JoinPath(Path)
	return kithttp.NewClient(http.MethodPost, tgt, encodeDeliverRequest, decodeDeliverResponse(s), kithttp.SetClient(client)).Endpoint()
}

func encodeDeliverRequest(_ context.Context, r *http.Request, request any) error {
	body, ok := request.(deliverBody)
	if !ok {
		return fmt.Errorf("peer: cannot send a %T", request)
	}
	r.Header.Set("Content-Type", "application/json")
	// This node reads receipts bound to the whole envelope, and holds
	// them to it (receiptCheck.read).
	r.Header.Set(ReceiptBindingHeader, ReceiptBindingEnvelope)
	r.ContentLength = int64(body.size())
	r.Body = io.NopCloser(body.reader())
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(body.reader()), nil }
	return nil
}

func decodeDeliverResponse(s server) kithttp.DecodeResponseFunc {
	province := s.province
	return func(_ context.Context, r *http.Response) (any, error) {
		if err := s.checkAnswer(r); err != nil {
			return nil, err
		}
		// A batch's answer is a receipt per envelope: a few hundred bytes each.
		const maxAnswer = contracts.MaxDeliveryBatch << 13
		body, err := httpbody.ReadAll(io.LimitReader(r.Body, maxAnswer+1), r.ContentLength, maxAnswer)
		if err != nil {
			return nil, fmt.Errorf("read answer from %s: %w", province, err)
		}
		if len(body) > maxAnswer {
			return nil, fmt.Errorf("answer from %s is over %d bytes", province, maxAnswer)
		}
		a, err := decodeAnswer(body)
		if err != nil {
			return nil, fmt.Errorf("decode answer from %s: %w", province, err)
		}
		return a, nil
	}
}

// server is the peer a client endpoint calls, and how its certificate is
// verified again with every answer.
type server struct {
	province string
	// verifier is the one the TLS handshake verified the server with; nil
	// leaves the check to the handshake.
	verifier *pki.Verifier
}

// checkAnswer checks that the server is a node of province, since nodes are
// reached by address and the address proves nothing, and that it answered
// 200; otherwise the error carries the peer's own. The server's certificate
// is verified again, not only read: a connection outlives the handshake
// that verified it by hours, and a revocation (or the province's removal)
// since must stop the batches it carries. The verifier remembers the
// connection's chain, so this costs the revocation and validity checks.
func (s server) checkAnswer(r *http.Response) error {
	if r.TLS == nil {
		return errors.New("peer answered without TLS")
	}
	var id pki.Identity
	var err error
	if s.verifier != nil {
		if id, err = s.verify(r.TLS.PeerCertificates); err != nil {
			return err
		}
	} else if id, err = pki.PeerIdentity(*r.TLS); err != nil {
		return err
	}
	if id.Kind != pki.KindNode || id.Province != s.province {
		return fmt.Errorf("expected a node of province %s, the server is %s", s.province, id)
	}
	if r.StatusCode != http.StatusOK {
		var eb errorBody
		json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&eb)
		return &AnswerError{Province: s.province, Status: r.StatusCode, Message: peerText(eb.Error)}
	}
	return nil
}

// checkConn verifies again the certificate of the server at the other end
// of conn, a TLS connection the handshake verified it on, and returns a
// *serverCertError if it no longer verifies. A connection that is not
// TLS, or a server without a verifier, is left to checkAnswer.
func (s server) checkConn(conn net.Conn) error {
	tc, ok := conn.(interface{ ConnectionState() tls.ConnectionState })
	if !ok || s.verifier == nil {
		return nil
	}
	_, err := s.verify(tc.ConnectionState().PeerCertificates)
	return err
}

// verify verifies chain, the server's, with s.verifier, and returns a
// *serverCertError if it no longer verifies.
func (s server) verify(chain []*x509.Certificate) (pki.Identity, error) {
	id, err := s.verifier.Verify(chain, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return id, &serverCertError{province: s.province, err: err}
	}
	return id, nil
}

// closeRevoked closes the last of conns, the connection an answer came
// on, when err says the server's certificate no longer verifies, and the
// client's idle connections, so that the next request to the peer
// handshakes again (and the handshake refuses the certificate) rather than
// send more to that server. The connection is closed outright, not left to
// go idle first: an HTTP/2 stream ends asynchronously, so the connection
// may not be idle yet when the request returns, and would then be reused.
func (r *remote) closeRevoked(conns []net.Conn, err error) {
	var certErr *serverCertError
	if !errors.As(err, &certErr) {
		return
	}
	if len(conns) > 0 {
		conns[len(conns)-1].Close()
	}
	r.client.CloseIdleConnections()
}

// serverCertError is a peer whose certificate stopped verifying on a
// connection already open; it wraps the verifier's error (pki.ErrRevoked
// and the like).
type serverCertError struct {
	province string
	err      error
}

func (e *serverCertError) Error() string {
	return fmt.Sprintf("peer %s: its server certificate no longer verifies, so its open connections are closed: %v", e.province, e.err)
}

func (e *serverCertError) Unwrap() error { return e.err }

// AnswerError is a peer's answer other than 200, with the peer's message.
type AnswerError struct {
	Province string
	Status   int
	// Message is the peer's error text, cut and escaped (see peerText).
	Message string
}

func (e *AnswerError) Error() string {
	return fmt.Sprintf("peer %s answered %d %s: %s", e.Province, e.Status, http.StatusText(e.Status), e.Message)
}

// Refused reports whether the peer, up and answering, refused the request
// itself (a 4xx other than 408 and 429): the fault is in what was sent or
// who sent it, not in the peer, so retrying sooner or later changes nothing
// and the breaker does not count it.
func (e *AnswerError) Refused() bool {
	return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusRequestTimeout && e.Status != http.StatusTooManyRequests
}

// Refusal reads err as the peer's refusal of a batch itself (an
// AnswerError that Refused), with the peer's status and error text: the
// delivery workers' Config.Refusal.
func Refusal(err error) (status int, message string, ok bool) {
	var answer *AnswerError
	if errors.As(err, &answer) && answer.Refused() {
		return answer.Status, answer.Message, true
	}
	return 0, "", false
}
