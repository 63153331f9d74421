package exchange

import (
	"github.com/laborlink/laborlink/contracts"
	"github.com/laborlink/laborlink/gateway/policy"
)

// maskedAlready reports whether importedRecord may keep the payload rec was
// decoded from as it came: applying dec's import obligations would give it
// back unchanged (see policy.Decision.MaskedAlready, which knows the field
// tables that answer it).
func maskedAlready(dec *policy.Decision, rec contracts.Record) bool {
	return dec.MaskedAlready(rec)
}
