// Package httpbody reads HTTP bodies whole into buffers sized by the length
// they declare, instead of io.ReadAll's doublings: a batch of a hundred
// records read by doubling allocates about twice its size, and at batch
// rates that is a good part of what the collector then has to do.
package httpbody

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// maxUpfront caps the buffer allocated before any of a body arrives: a
// client may declare a length and send nothing, and the node should not
// hold max for it. Batches of records are well under it.
const maxUpfront = 4 << 20

// ReadAll reads r to its end. declared is the length the message declares
// (http.Request.ContentLength or http.Response.ContentLength; -1 when
// unknown); the buffer starts at that size when it is within max (and
// within 4 MiB), and grows as io.ReadAll's would otherwise. Limiting what
// is read is r's to do.
func ReadAll(r io.Reader, declared, max int64) ([]byte, error) {
	if declared < 0 || declared > max {
		declared = 0
	}
	declared = min(declared, maxUpfront)
	buf := bytes.NewBuffer(make([]byte, 0, declared+bytes.MinRead))
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// ErrTooLarge is wrapped by ReadRequest's error for a body over its limit;
// a server answers it 413, which tells a client to send less at once.
var ErrTooLarge = errors.New("request body too large")

// ReadRequest reads r's body whole, up to max bytes. A body that declares
// a longer length is refused before any of it is read, and one that runs
// past max while read is refused there; both errors wrap ErrTooLarge and
// say the limit.
func ReadRequest(r *http.Request, max int64) ([]byte, error) {
	if r.ContentLength > max {
		return nil, fmt.Errorf("%w: %d bytes declared, the limit is %d", ErrTooLarge, r.ContentLength, max)
	}
	body, err := ReadAll(http.MaxBytesReader(nil, r.Body, max), r.ContentLength, max)
	if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
		return nil, fmt.Errorf("%w: over the limit of %d bytes", ErrTooLarge, max)
	}
	return body, err
}

// ErrNotJSON is wrapped by CheckJSON's error for a body sent as another
// media type; a server answers it 415.
var ErrNotJSON = errors.New("unsupported media type")

// CheckJSON refuses a request that carries a body (or may: a length not
// declared) whose Content-Type is not application/json, parameters such as
// charset aside. The APIs take JSON only, and a body sent as text/plain,
// as a form or with no type at all is what a web page may have a browser
// send across sites without asking, with the client certificate the
// browser holds: refusing those keeps a page from acting as an operator
// or administrator who visits it. A request with no body passes.
func CheckJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if r.ContentLength == 0 && ct == "" {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "application/json" {
		return nil
	}
	if ct == "" {
		return fmt.Errorf("%w: the request has a body and no Content-Type; send it as application/json", ErrNotJSON)
	}
	return fmt.Errorf("%w: Content-Type %q; send the body as application/json", ErrNotJSON, ct)
}
