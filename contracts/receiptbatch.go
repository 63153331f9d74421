package contracts

// VerifyReceipts verifies each receipt as VerifyWith does and returns the
// first one's error. The receipts of an answer to a batch come as
// SignReceipts signed them: a run of receipts holding a whole tree, in
// leaf order, which VerifyTrees verifies together (n-1 node hashes and one
// root signature check, each receipt's own path still held to the tree).
// A run whose paths or root do not match the tree, and any other receipt,
// is verified alone, which also names what is wrong.
func VerifyReceipts(rs []*Receipt, roots *RootVerifier) error {
	ds := make([][32]byte, len(rs))
	ps := make([]*BatchProof, len(rs))
	// A receipt that cannot be hashed fails, but only after those before
	// it are verified: their error comes first, as VerifyWith's would.
	n, hashErr := len(rs), error(nil)
	for i, r := range rs {
		var err error
		if ds[i], err = r.SigningDigest(); err != nil {
			n, hashErr = i, err
			break
		}
		if len(r.Signature) == 0 {
			ps[i] = r.Batch // a receipt signed alone is in no tree
		}
	}
	proven := VerifyTrees(ds[:n], ps[:n], roots)
	for i, r := range rs[:n] {
		if proven[i] {
			continue
		}
		if err := r.verifyDigest(ds[i], roots); err != nil {
			return err
		}
	}
	return hashErr
}
