package peer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/store"
)

// digestLen is the length of a payload digest, "sha256:" and 64 hex digits.
const digestLen = len("sha256:") + 64

// sentDigest returns the payload digest of an envelope as this node
// queued it, for its receipt to be held to. Nodes write an envelope's
// payload_digest after its payload and before nothing but the signer, the
// signature and the batch proof (contracts' AppendJSON; see digestMember),
// so the last such member is the envelope's own, read without the payload
// being read again, as encodeBatch finds it. An envelope written otherwise
// (one whose digest does not follow the member name at once) is decoded.
// The envelope is this node's, as it queued it: a destination has no say
// in how it is written.
func sentDigest(env []byte) ([]byte, error) {
	if i := bytes.LastIndex(env, digestMember); i >= 0 {
		v := env[i+len(digestMember):]
		if len(v) > digestLen+1 && v[0] == '"' && v[digestLen+1] == '"' && bytes.HasPrefix(v[1:], []byte("sha256:")) {
			return v[1 : digestLen+1], nil
		}
	}
	var e struct {
		PayloadDigest string `json:"payload_digest"`
	}
	if err := json.Unmarshal(env, &e); err != nil {
		return nil, err
	}
	if e.PayloadDigest == "" {
		return nil, errors.New("no payload_digest")
	}
	return []byte(e.PayloadDigest), nil
}

// sentSigningDigest returns the signing digest of an envelope as this node
// sent it, for a receipt bound to the whole envelope to be held to. One
// signed with its batch is queued with it (the node's sender signs every
// batch so, sealing again the envelopes queued signed alone); only one
// sent signed alone is decoded and hashed for it.
func sentSigningDigest(sent store.Queued) ([32]byte, error) {
	if len(sent.SigningDigest) == 32 {
		return [32]byte(sent.SigningDigest), nil
	}
	env, err := contracts.DecodeEnvelope(sent.Envelope)
	if err != nil {
		return [32]byte{}, err
	}
	if env.ID != sent.EnvelopeID {
		return [32]byte{}, fmt.Errorf("queued as %s, the envelope says %s", sent.EnvelopeID, env.ID)
	}
	return env.SigningDigest()
}
