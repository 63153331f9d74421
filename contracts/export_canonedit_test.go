package contracts

// CanonicalEditedOnePass is the one pass of NewEnvelopeEdited: v's
// canonical form with edits carried out while it is encoded, or false where
// the encoder declines and the two passes are taken instead.
func CanonicalEditedOnePass(v any, edits map[string]*Edits) ([]byte, bool) {
	return appendCanonicalEdited(nil, v, edits)
}
